"""Nothing lost: a chat process killed with SIGKILL mid-stream leaves its partial answer on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from relay_tui.demo import DemoRelay
from relay_tui.store.history import History
from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parent.parent


def test_kill_9_mid_stream_keeps_the_partial_answer(isolated_home):
    # A slow model: 20 tokens/s, so the stream is still running when we kill the process.
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,),
                      model_overrides={"gpt-4.1": {"ttft": 0.05, "tps": 20, "answer_tokens": 400}})
    relay.start()
    try:
        env = {**os.environ, "RELAY_TUI_API_KEY": TEST_KEY, "RELAY_TUI_HOME": str(isolated_home),
               "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "relay_tui", "--base-url", relay.base_url, "chat", "-m", "gpt-4.1",
             "Tell me a long story"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env)
        os.set_blocking(proc.stdout.fileno(), False)
        seen = b""
        deadline = time.monotonic() + 20
        while len(seen) < 120 and time.monotonic() < deadline:
            chunk = proc.stdout.read() or b""
            seen += chunk
            time.sleep(0.05)
        assert len(seen) >= 120, "the answer never started streaming"
        time.sleep(0.6)  # let at least one more history flush happen
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
    finally:
        relay.stop()

    history = History()  # a new process opening the history marks the orphaned answer
    conv = history.conversations()[0]
    answer = history.messages(conv.id)[-1]
    assert answer.role == "assistant"
    assert answer.state == "interrupted"
    printed = seen.decode("utf-8", "replace").strip()
    assert len(answer.content) >= len(printed) * 0.5
    assert answer.content.startswith(printed[:60])
    history.close()
