"""Retries as the CLI shows them: a relay's wait beyond the cap is reported, not slept through."""

from __future__ import annotations

import time

from relay_tui.cli import main
from relay_tui.core.errors import RateLimited, ServerError, classify
from relay_tui.core.retry import MAX_RELAY_WAIT, delay_for, retry_after
from tests.conftest import TEST_KEY


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_wait_beyond_the_cap_is_reported_and_not_retried(capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    demo_relay.set_fault("rate_limit", retry_after=3600, times=2)
    started = time.monotonic()
    code, out, err = run(capsys, "--base-url", demo_relay.base_url, "chat", "-m", "gpt-4.1", "hi")
    assert time.monotonic() - started < 10                 # it did not sleep 60 s before giving up
    lines = err.strip().splitlines()
    assert code == 1 and out == "" and len(lines) == 1, err   # no retry line: nothing was retried
    assert lines[0].startswith("relay-tui: rate limited by the relay (HTTP 429): ")
    assert "(retry after 3600 s (1 h), longer than relay-tui waits: not retried) [request rt-" in lines[0]
    assert "60 s" not in lines[0] and "gave up" not in lines[0]
    assert demo_relay.faults()[0]["times"] == 1             # one request reached the relay, not two


def test_a_wait_within_the_cap_is_still_retried(capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    demo_relay.set_fault("rate_limit", retry_after=0.05, times=1)
    code, out, err = run(capsys, "--base-url", demo_relay.base_url, "chat", "-m", "gpt-4.1", "hi")
    assert code == 0 and out.strip(), err
    assert "retrying in" in err.splitlines()[0]


def test_the_uncapped_wait_reaches_the_error_of_any_retryable_status():
    headers = {"retry-after": "7200"}
    assert retry_after(headers) == MAX_RELAY_WAIT          # what would be slept: never more than the cap
    busy = classify(503, {"error": {"message": "overloaded"}}, profile="p", request_id="rt-1",
                    retry_after=retry_after(headers))
    assert isinstance(busy, ServerError) and busy.retry_after == 7200
    assert str(busy) == ("the relay failed (HTTP 503): overloaded (retry after 7200 s (2 h), longer "
                         "than relay-tui waits: not retried) [request rt-1]")
    assert delay_for(busy, attempt=1, max_retries=3) is None
    limited = classify(429, {}, profile="p", request_id=None,
                       retry_after=retry_after({"retry-after-ms": "90500"}))
    assert isinstance(limited, RateLimited) and delay_for(limited, 1, 3) is None
    assert str(limited).endswith("(retry after 90 s (1 min 30 s), longer than relay-tui waits: not retried)")
    at_cap = classify(429, {}, profile="p", request_id=None, retry_after=retry_after({"retry-after": "60"}))
    assert str(at_cap).endswith("(retry after 60 s)") and delay_for(at_cap, 1, 3) == 60
    assert retry_after({"retry-after": "nan"}) is None
    endless = classify(429, {}, profile="p", request_id=None, retry_after=retry_after({"retry-after": "inf"}))
    assert delay_for(endless, 1, 3) is None  # "inf" (or 400 digits, which read so) is too long a wait
    assert str(endless).endswith("(retry after over a year, longer than relay-tui waits: not retried)")


def test_each_retry_is_one_short_line_and_the_full_line_comes_once(capsys, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    demo_relay.set_fault("rate_limit", retry_after=0.05)          # every attempt: 1 + 3 retries
    code, out, err = run(capsys, "--base-url", demo_relay.base_url, "chat", "-m", "gpt-4.1", "hi")
    assert code == 1 and out == ""
    *retries, final = err.strip().splitlines()
    assert retries == [f"relay-tui: retrying in 0.05 s (attempt {n} of 4): rate limited by the relay "
                       f"(HTTP 429)" for n in (2, 3, 4)]
    assert final.startswith("relay-tui: rate limited by the relay (HTTP 429): Rate limit reached for gpt-4.1")
    assert "(retry after 0.05 s) (gave up after 4 attempts) [request rt-" in final
    assert err.count("Rate limit reached") == 1                   # the relay's words once, at the end


def test_retries_that_succeed_leave_only_their_short_lines(capsys, demo_relay, monkeypatch):
    from relay_tui.store.config import save_profile
    from relay_tui.store.profile import Profile

    save_profile(Profile(name="work", base_url=demo_relay.base_url, max_retries=1), make_active=True)
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    demo_relay.set_fault("server_error", times=1)
    code, out, err = run(capsys, "chat", "-m", "gpt-4.1", "hi")
    assert code == 0 and out.strip()
    retry, footer = err.strip().splitlines()
    assert retry.startswith("relay-tui: retrying in ") and retry.endswith(
        " s (attempt 2 of 2): the relay failed (HTTP 500)"), retry
    assert footer.startswith("gpt-4.1 · TTFT ")
