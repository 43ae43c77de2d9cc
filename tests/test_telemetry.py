"""Team telemetry as a collector sees it: the real OpenTelemetry SDK exporting real OTLP/HTTP to a
receiver on loopback (tests/support/otlp_sink.py decodes it with the OTLP schema), the CLI and the
TUI against the demo relay. The round trip through Phoenix is tests/test_telemetry_phoenix.py."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relay_tui.cli import main
from relay_tui.core import telemetry
from relay_tui.core.telemetry.config import TelemetryUnavailable, plan
from relay_tui.core.telemetry.spans import SECONDS_BUCKETS, TOKEN_BUCKETS, derived_ids
from relay_tui.store.config import ConfigError, TelemetrySettings, load_settings
from relay_tui.store.history import History
from tests.conftest import TEST_KEY
from tests.support.otlp_sink import OtlpSink

ROOT = Path(__file__).resolve().parent.parent
GENAI_METRICS = ("gen_ai.client.operation.duration", "gen_ai.client.token.usage",
                 "gen_ai.client.operation.time_to_first_chunk",
                 "gen_ai.client.operation.time_per_output_chunk")


@pytest.fixture
def sink():
    with OtlpSink() as receiver:
        yield receiver


@pytest.fixture
def relay_env(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return ["--base-url", demo_relay.base_url]


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def logged_row() -> dict:
    """A request-log row as core/records.py hands it to telemetry."""
    return dict(request_id="rt-x", profile="p", model="m", served_model="m", kind="bench",
                started_at=time.time(), status=200, error_kind=None, error=None, total=0.1)


def telemetry_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "telemetry" in line]


# -- switching it on ------------------------------------------------------------------------------

def test_off_by_default_and_on_with_the_standard_variables(monkeypatch):
    assert plan(TelemetrySettings(), {}) is None
    on = plan(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
                     "OTEL_SERVICE_NAME": "team-laptops"})
    assert on.service_name == "team-laptops" and on.endpoint is None   # the SDK reads the variable
    assert on.traces and on.metrics and not on.capture_content
    only_traces = plan(None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:6006/v1/traces"})
    assert only_traces.traces and not only_traces.metrics
    assert plan(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "true"}) is None
    assert plan(TelemetrySettings(enabled=False), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}) is None
    from_config = plan(TelemetrySettings(endpoint="http://collector.test:4318", capture_content=True), {})
    assert from_config.endpoint == "http://collector.test:4318" and from_config.capture_content
    # the conventions' content capture variable wins over the config, both ways
    assert not plan(TelemetrySettings(enabled=True, capture_content=True),
                    {CAPTURE: "NO_CONTENT"}).capture_content
    assert plan(TelemetrySettings(enabled=True), {CAPTURE: "SPAN_ONLY"}).capture_content
    assert plan(TelemetrySettings(enabled=True), {CAPTURE: "true"}).capture_content


CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def test_grpc_is_refused_with_the_fix():
    with pytest.raises(TelemetryUnavailable, match="OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"):
        plan(None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})


def test_without_the_extra_one_line_says_how_to_install_it(capsys, relay_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk", None)   # as if not installed
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    code, out, err = cli(capsys, *relay_env, "chat", "-m", "gpt-4.1", "hello")
    assert code == 0 and out.strip()
    assert telemetry_lines(err) == ["relay-tui: telemetry is on (OTEL_EXPORTER_OTLP_ENDPOINT) but the "
                                    "OpenTelemetry SDK is not installed: pip install 'relay-tui[otel]'"]


def test_config_table_is_validated(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[telemetry]\nenabled = true\nendpoint = "http://collector.test:4318/"\n'
                    'service_name = "ml"\nresource_attributes = { team = "ml" }\n')
    assert load_settings(path).telemetry == TelemetrySettings(
        enabled=True, endpoint="http://collector.test:4318", service_name="ml",
        resource_attributes={"team": "ml"})
    for bad, message in (('enabled = "yes"', "telemetry.enabled: must be true or false"),
                         ('endpoint = "grpc://x"', "telemetry.endpoint: must be a URL"),
                         ('endpoint = "https://u:pw@x"', "must not hold a user or password"),
                         ('[telemetry.headers]\nx = "y"', "OTEL_EXPORTER_OTLP_HEADERS"),
                         ('sample = 1', "unknown setting")):
        path.write_text(f"[telemetry]\n{bad}\n")
        with pytest.raises(ConfigError, match=message) as caught:
            load_settings(path)
        assert "pw" not in str(caught.value)


def test_help_and_first_frame_do_not_import_the_sdk(tmp_path):
    """With telemetry on, neither `--help` nor the TUI's first frame loads any OpenTelemetry code
    (finding the extra loads the `opentelemetry` namespace packages only: no file is run)."""
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "relay_tui", "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=30, env=env)
    assert proc.returncode == 0 and "opentelemetry" not in proc.stderr
    script = ("import asyncio, sys\n"
              "from relay_tui.app import AppOptions, make_app\n"
              "async def go():\n"
              "    app = make_app(AppOptions(demo=True))\n"
              "    async with app.run_test() as pilot:\n"
              "        await pilot.pause()\n"
              "        print(sorted(m for m, mod in sys.modules.items()\n"
              "                     if m.startswith('opentelemetry') and getattr(mod, '__file__', None)))\n"
              "asyncio.run(go())\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, env={**env, "RELAY_TUI_HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# -- what a collector receives ------------------------------------------------------------------

@pytest.fixture
def paced_relay(monkeypatch):
    """A demo relay that streams token by token (at 1/50 of its real pace), so an answer has
    chunks after the first one."""
    from relay_tui.demo import DEMO_KEY, DemoRelay

    relay = DemoRelay(time_scale=0.02, accept_keys=(DEMO_KEY, TEST_KEY))
    relay.start()
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    yield relay
    relay.stop()


def test_chat_span_and_metrics_follow_the_genai_conventions(capsys, paced_relay, sink, monkeypatch):
    demo_relay, relay_env = paced_relay, ["--base-url", paced_relay.base_url]
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url)
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "team=ml")
    code, out, err = cli(capsys, *relay_env, "chat", "-m", "auto", "-t", "0.3", "--max-tokens",
                         "300", "Write a short note")
    assert code == 0 and not telemetry_lines(err)
    [span] = sink.spans()
    a = span["attributes"]
    assert span["name"] == "chat auto" and span["kind"] == 3        # SPAN_KIND_CLIENT
    assert span["resource"]["service.name"] == "relay-tui" and span["resource"]["team"] == "ml"
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == a["gen_ai.system"] == "openai"
    assert a["gen_ai.request.model"] == "auto"
    assert a["gen_ai.response.model"] in demo_relay.models and a["gen_ai.response.model"] != "auto"
    assert a["gen_ai.request.temperature"] == 0.3 and a["gen_ai.request.max_tokens"] == 300
    assert a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
    assert a["gen_ai.response.finish_reasons"] == ["stop"]
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == demo_relay.port
    assert "error.type" not in a
    assert a["relay_tui.kind"] == "chat" and a["relay_tui.profile"] == "base-url"
    with History() as history:
        [logged] = history.requests()
    assert a["relay_tui.request_id"] == logged.request_id and a["relay_tui.retries"] == 0
    assert a["relay_tui.cost_usd"] > 0 and a["relay_tui.cost_source"]
    assert 0 < a["relay_tui.time_to_first_token"] <= (span["end"] - span["start"]) / 1e9
    assert "gen_ai.input.messages" not in a and "Write a short note" not in str(sink.raw())

    histograms = sink.histograms()
    assert set(GENAI_METRICS) <= set(histograms)
    [duration] = histograms["gen_ai.client.operation.duration"]
    assert duration["bounds"] == list(SECONDS_BUCKETS) and duration["unit"] == "s"
    assert duration["count"] == 1 and duration["sum"] == pytest.approx((span["end"] - span["start"]) / 1e9, abs=1e-3)
    assert duration["attributes"]["gen_ai.request.model"] == "auto"
    assert duration["attributes"]["gen_ai.response.model"] == a["gen_ai.response.model"]
    tokens = {p["attributes"]["gen_ai.token.type"]: p for p in histograms["gen_ai.client.token.usage"]}
    assert tokens["input"]["sum"] == a["gen_ai.usage.input_tokens"]
    assert tokens["output"]["sum"] == a["gen_ai.usage.output_tokens"]
    assert tokens["output"]["bounds"] == list(TOKEN_BUCKETS) and tokens["output"]["unit"] == "{token}"
    [ttfc] = histograms["gen_ai.client.operation.time_to_first_chunk"]
    assert ttfc["sum"] == pytest.approx(a["relay_tui.time_to_first_token"])
    [per_chunk] = histograms["gen_ai.client.operation.time_per_output_chunk"]
    streaming = (span["end"] - span["start"]) / 1e9 - a["relay_tui.time_to_first_token"]
    assert per_chunk["count"] > 10 and 0 < per_chunk["sum"] <= streaming + 1e-3


def test_a_failed_request_is_an_error_span(capsys, relay_env, sink, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url)
    code, _, err = cli(capsys, *relay_env, "chat", "-m", "no-such-model", "hello")
    assert code == 1
    [span] = sink.spans()
    assert span["status"] == 2 and span["attributes"]["error.type"] == "model"   # STATUS_CODE_ERROR
    assert "no-such-model" in span["status_message"]
    [duration] = sink.histograms()["gen_ai.client.operation.duration"]
    assert duration["attributes"]["error.type"] == "model"


def test_compare_and_bench_are_parent_spans(capsys, relay_env, sink, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url)
    assert cli(capsys, *relay_env, "compare", "-m", "gpt-4.1,claude-sonnet-4.5,gpt-4.1", "hi")[0] == 0
    assert cli(capsys, *relay_env, "bench", "-m", "gpt-4.1", "-n", "4", "-c", "2")[0] == 0
    spans = sink.spans()
    runs = {s["name"]: s for s in spans if s["parent_id"] is None}
    assert set(runs) == {"compare", "bench"}
    children = {name: [s for s in spans if s["parent_id"] == run["span_id"]] for name, run in runs.items()}
    assert sorted(s["name"] for s in children["compare"]) == ["chat claude-sonnet-4.5", "chat gpt-4.1",
                                                              "chat gpt-4.1"]
    assert len(children["bench"]) == 4 and len(spans) == 2 + 3 + 4
    for name, run in runs.items():
        assert {s["trace_id"] for s in children[name]} == {run["trace_id"]}
        assert run["kind"] == 1                                          # SPAN_KIND_INTERNAL
        assert {s["attributes"]["relay_tui.kind"] for s in children[name]} == {name}
    assert runs["bench"]["attributes"]["relay_tui.bench.concurrency"] == 2


def test_content_is_exported_only_when_the_user_opts_in(capsys, relay_env, sink, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url)
    monkeypatch.setenv(CAPTURE, "SPAN_ONLY")
    code, out, _ = cli(capsys, *relay_env, "chat", "-m", "gpt-4.1", "-s", "Be brief.", "Say a haiku")
    assert code == 0
    a = sink.spans()[0]["attributes"]
    assert json.loads(a["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say a haiku"}]}]
    assert json.loads(a["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    [answer] = json.loads(a["gen_ai.output.messages"])
    assert answer["parts"][0]["content"].strip() == out.strip() and answer["finish_reason"] == "stop"


def test_no_secret_leaves_the_machine(capsys, demo_relay, sink, monkeypatch, tmp_path):
    """A profile with a key, a password in its URL and a secret header: the collector gets none
    of them, whatever the request did (answered, failed, retried)."""
    from relay_tui.store import keys
    from relay_tui.store.config import save_profile
    from relay_tui.store.profile import Profile

    url = demo_relay.base_url.replace("http://", "http://relayuser:url-p4ssw0rd@")
    save_profile(Profile(name="team", base_url=url, headers={"X-Relay-Token": "hdr-s3cret-value"}),
                 make_active=True)
    keys.set_key("team", TEST_KEY)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer collector-token")
    cli(capsys, "chat", "-m", "gpt-4.1", "hello")
    cli(capsys, "chat", "-m", "no-such-model", "hello")
    cli(capsys, "compare", "-m", "gpt-4.1,no-such-model", "hello")
    raw = sink.raw()
    assert len(sink.spans()) == 5
    for secret in (TEST_KEY, TEST_KEY[:12], "url-p4ssw0rd", "relayuser", "hdr-s3cret-value",
                   "collector-token"):
        assert secret.encode() not in raw, secret


# -- never in the way ---------------------------------------------------------------------------

def test_a_dead_collector_costs_one_line_and_no_wait(capsys, relay_env, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")   # nothing listens
    started = time.monotonic()
    code, out, err = cli(capsys, *relay_env, "compare", "-m", "gpt-4.1,claude-sonnet-4.5", "hi")
    took = time.monotonic() - started
    assert code == 0 and "gpt-4.1" in out + err
    [line] = telemetry_lines(err)
    assert "127.0.0.1:9" in line and "connection refused" in line and "requests go on" in line
    assert took < 2.5   # the exit does not wait out the exporter's retries (10 s of them)


def test_a_slow_collector_holds_an_exit_two_seconds_at_most(capsys, relay_env, monkeypatch):
    with OtlpSink(delay=20) as slow:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", slow.url)
        started = time.monotonic()
        code, _, err = cli(capsys, *relay_env, "chat", "-m", "gpt-4.1", "hi")
        took = time.monotonic() - started
    assert code == 0 and took < 3.5
    [line] = telemetry_lines(err)
    assert "did not answer within 2 s" in line and "dropped" in line


def test_a_refusing_collector_is_named_with_its_answer(capsys, relay_env, monkeypatch):
    with OtlpSink(status=401) as refusing:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", refusing.url)
        code, _, err = cli(capsys, *relay_env, "chat", "-m", "gpt-4.1", "hi")
    assert code == 0
    [line] = telemetry_lines(err)
    assert "HTTP 401" in line


def test_spans_are_dropped_not_queued_without_bound(monkeypatch):
    """A collector that takes 2 s per batch: the hook never blocks, and past the bound spans
    are dropped and counted."""
    from relay_tui.core.telemetry.pipeline import MAX_PENDING

    with OtlpSink(delay=2.0) as slow:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", slow.url)
        problems: list[str] = []
        telemetry.start(TelemetrySettings(), report=problems.append)
        row = logged_row()
        started = time.perf_counter()
        for i in range(MAX_PENDING * 3):
            telemetry.request_logged({**row, "request_id": f"rt-{i}"}, i)
        took = time.perf_counter() - started
        pipeline = telemetry.active()
        telemetry.stop(0.5)
    assert pipeline.dropped > 0
    assert took / (MAX_PENDING * 3) < 200e-6     # per span, on the caller's thread


def test_while_the_collector_is_down_spans_are_not_even_built(monkeypatch):
    """A refused connection is known from the first span on (a probe): the rest are dropped at
    the hook, so a dead collector costs requests nothing."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    problems: list[str] = []
    telemetry.start(TelemetrySettings(), report=problems.append)
    row = logged_row()
    telemetry.request_logged(row, 1)
    pipeline = telemetry.active()
    for _ in range(200):
        if pipeline.shedding():
            break
        time.sleep(0.05)
    started = time.perf_counter()
    for i in range(1000):
        telemetry.request_logged({**row, "request_id": f"rt-{i}"}, i)
    took = time.perf_counter() - started
    telemetry.stop()
    assert len(problems) == 1 and "connection refused" in problems[0]
    assert pipeline.dropped >= 1000 and took / 1000 < 20e-6


async def test_tui_shows_one_notice_when_the_collector_is_down(demo_relay, monkeypatch):
    from tests.test_tui_chat import SIZE, chat_app, send

    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")     # export each answer's span at once
    app = chat_app(demo_relay)
    async with app.run_test(size=SIZE) as pilot:
        for prompt in ("first", "second", "third"):
            await send(pilot, prompt)
            await pilot.pause(0.3)
        notices = [n.message for n in app._notifications if n.title == "Telemetry"]
        assert len(notices) == 1 and "connection refused" in notices[0]
        assert len(app.history.requests()) == 3 and all(r.error_kind is None
                                                         for r in app.history.requests())


# -- backfill -------------------------------------------------------------------------------------

def test_backfill_sends_the_log_once_with_the_live_ids(capsys, relay_env, sink, monkeypatch):
    code, _, _ = cli(capsys, *relay_env, "compare", "-m", "gpt-4.1,claude-sonnet-4.5", "hi")
    assert code == 0 and cli(capsys, *relay_env, "chat", "-m", "gpt-4.1", "hi")[0] == 0
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.url)
    assert cli(capsys, *relay_env, "chat", "-m", "gpt-4.1", "live")[0] == 0
    live = sink.spans()
    code, _, err = cli(capsys, "telemetry", "export", "--since", "1h")
    assert code == 0 and "4 requests and 1 comparisons" in err and "5 spans accepted" in err
    first = sink.spans()[len(live):]
    assert cli(capsys, "telemetry", "export", "--since", "1h")[0] == 0
    second = sink.spans()[len(live) + len(first):]
    ids = lambda spans: sorted((s["trace_id"], s["span_id"], s["parent_id"]) for s in spans)
    assert ids(first) == ids(second)                     # idempotent: the same spans again
    assert set(ids(live)) <= set(ids(first))             # the live span is the backfilled one
    [parent] = [s for s in first if s["name"] == "compare"]
    assert len([s for s in first if s["parent_id"] == parent["span_id"]]) == 2
    with History() as history:
        assert len(history.requests()) == 4


def test_status_says_where_spans_go(capsys, monkeypatch):
    assert cli(capsys, "telemetry", "status")[1].startswith("telemetry is off: set OTEL_EXPORTER_OTLP_ENDPOINT")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "laptops")
    code, out, _ = cli(capsys, "telemetry", "status")
    assert code == 0 and out.strip() == ("telemetry is on (OTEL_EXPORTER_OTLP_ENDPOINT) as service "
                                         "laptops; prompts and answers are not exported")


def test_backfill_when_off_says_how_to_switch_it_on(capsys):
    code, _, err = cli(capsys, "telemetry", "export", "--since", "7d")
    assert code == 2 and "OTEL_EXPORTER_OTLP_ENDPOINT" in err
    code, _, err = cli(capsys, "telemetry", "export", "--since", "soon")
    assert code == 2


def test_ids_are_derived_from_the_request():
    assert derived_ids("request", "rt-1", "1.5") == derived_ids("request", "rt-1", "1.5")
    assert derived_ids("request", "rt-1", "1.5") != derived_ids("request", "rt-2", "1.5")


def test_a_stopped_request_is_not_an_error():
    from relay_tui.core.telemetry.spans import request_span

    row = dict(request_id="", profile="p", model="gpt-4.1", served_model=None, kind="chat",
               started_at=1_800_000_000.25, status=200, error_kind="stopped", error=None,
               ttft=0.4, total=None, headers=0.1)
    spec = request_span(row, 7, base_url="https://user:pw@relay.test/v1")
    assert spec.error is None and "error.type" not in spec.attributes
    assert spec.attributes["relay_tui.outcome"] == "stopped" and spec.duration is None
    assert spec.end_ns - spec.start_ns == int(0.4 * 1e9)          # the last timing taken
    assert spec.attributes["server.address"] == "relay.test" and spec.attributes["server.port"] == 443
    assert "pw" not in repr(spec) and "user" not in repr(spec)
