"""The round trip a team sees: chat, compare and bench against the demo relay with telemetry on,
spans sent to a real Arize Phoenix (tests/support/phoenix.py) and read back from its REST API.
Metrics go to the loopback OTLP receiver at the same time (Phoenix takes traces only)."""

from __future__ import annotations

import time

import pytest

from relay_tui.cli import main
from relay_tui.store.history import History
from tests.conftest import TEST_KEY
from tests.support.otlp_sink import OtlpSink
from tests.support.phoenix import phoenix  # noqa: F401  (the session fixture)

pytestmark = [pytest.mark.integration,
              pytest.mark.xdist_group("phoenix")]  # one worker: one Phoenix started, once


def wait_for_spans(server, project: str, count: int, timeout: float = 30.0) -> list[dict]:
    """Phoenix stores what it receives a moment later: poll until `count` spans are there."""
    deadline = time.monotonic() + timeout
    while True:
        spans = server.spans(project)
        if len(spans) >= count or time.monotonic() > deadline:
            return spans
        time.sleep(0.2)


def test_chat_compare_and_bench_read_back_from_phoenix(phoenix, demo_relay, monkeypatch, capsys):
    project = "relay-tui-roundtrip"
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{phoenix.url}/v1/traces")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={project}")
    relay = ["--base-url", demo_relay.base_url]
    with OtlpSink() as metrics_sink:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", f"{metrics_sink.url}/v1/metrics")
        assert main([*relay, "chat", "-m", "auto", "--max-tokens", "200", "hello"]) == 0
        assert main([*relay, "compare", "-m", "gpt-4.1,claude-sonnet-4.5", "hi"]) == 0
        assert main([*relay, "bench", "-m", "gpt-4.1,deepseek-v3.2", "-n", "3", "-c", "2"]) == 0
    err = capsys.readouterr().err
    assert "telemetry" not in err
    spans = wait_for_spans(phoenix, project, 1 + 3 + 7)
    assert len(spans) == 1 + 3 + 7                 # chat; compare + 2 columns; bench + 6 requests
    by_id = {s["context"]["span_id"]: s for s in spans}
    roots = [s for s in spans if s["parent_id"] is None]
    assert sorted(s["name"] for s in roots) == ["bench", "chat auto", "compare"]
    for root in roots:
        children = [s for s in spans if s["parent_id"] == root["context"]["span_id"]]
        assert {c["context"]["trace_id"] for c in children} <= {root["context"]["trace_id"]}
        expected = {"chat auto": 0, "compare": 2, "bench": 6}[root["name"]]
        assert len(children) == expected, root["name"]
    with History() as history:
        logged_ids = {row.request_id for row in history.requests()}
    requests = [s for s in spans if s["name"].startswith("chat ")]
    assert len(requests) == 9 and all(s["parent_id"] in (None, *by_id) for s in requests)
    for span in requests:
        a = span["attributes"]
        assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "openai"
        assert span["name"] == f"chat {a['gen_ai.request.model']}"
        assert a["gen_ai.response.model"] and a["gen_ai.usage.output_tokens"] > 0
        assert a["gen_ai.response.finish_reasons"] in (["stop"], ["length"])
        assert a["server.address"] == "127.0.0.1" and a["server.port"] == demo_relay.port
        assert a["relay_tui.request_id"] in logged_ids and span["status_code"] != "ERROR"
    chat = next(s for s in requests if s["parent_id"] is None)["attributes"]
    assert chat["gen_ai.request.model"] == "auto" and chat["gen_ai.response.model"] != "auto"
    assert chat["gen_ai.request.max_tokens"] == 200
    assert {s["attributes"]["relay_tui.kind"] for s in requests} == {"chat", "compare", "bench"}
    histograms = metrics_sink.histograms()
    [*durations] = histograms["gen_ai.client.operation.duration"]
    assert sum(p["count"] for p in durations) == 9

    # A backfill of the same requests names the same spans: Phoenix keeps one of each.
    assert main(["telemetry", "export", "--since", "1h"]) == 0
    assert main(["telemetry", "export", "--since", "1h"]) == 0
    time.sleep(2)
    assert len(phoenix.spans(project)) == len(spans)
