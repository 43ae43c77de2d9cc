"""No secret in any crash: a crash inside a frame holding the key and a proxy password, in the CLI
and in the TUI (a real process on a pty), shows one line and writes a 0600 report without locals;
neither the terminal's bytes nor the report hold a secret. SOCKS proxies work (httpx[socks]),
credentials included, and their password never shows."""

from __future__ import annotations

import sys
import time
import textwrap

from relay_tui.store.config import save_profile
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY
from tests.support.hostile import check
from tests.support.pty_app import PtyApp
from tests.support.socks_proxy import SocksProxy
from tests.test_cli import run_cli

PROXY_PASSWORD = "hunter2-proxy-pw"
URL_PASSWORD = "url-pw-s3cret"
SECRETS = (TEST_KEY, TEST_KEY[:12], PROXY_PASSWORD, URL_PASSWORD)


def reports(home) -> list:
    return sorted((home / "crashes").glob("crash-*.txt"))


def assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} holds {secret[:6]}…"


def crash_with_secrets_in_locals() -> None:
    headers = {"Authorization": f"Bearer {TEST_KEY}"}  # noqa: F841 (the point: a local holding it)
    proxy = f"socks5://alice:{PROXY_PASSWORD}@127.0.0.1:1080"  # noqa: F841
    raise ValueError(f"boom while sending to http://bob:{URL_PASSWORD}@relay.example.test/v1 "
                     f"with Bearer {TEST_KEY} \x1b]0;pwned\x07")


def test_a_cli_crash_is_one_line_and_a_redacted_report(isolated_home, capsys, monkeypatch):
    from relay_tui import commands

    monkeypatch.setitem(commands.COMMANDS, "models", lambda args: crash_with_secrets_in_locals())
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, out, err = run_cli(capsys, "--base-url", "https://relay.example.test/v1", "models")
    assert code == 70 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("relay-tui: internal error (ValueError: boom while sending to http://***@")
    assert "a bug in relay-tui, not your relay; the report (no keys in it) is in " in err
    assert_clean("stderr", err)
    check("stderr", err)
    (report,) = reports(isolated_home)
    assert report.stat().st_mode & 0o777 == 0o600
    text = report.read_text()
    assert "Traceback (most recent call last)" in text and "crash_with_secrets_in_locals" in text
    assert "headers = " not in text and "proxy = " not in text  # no locals
    assert "sk-…" + TEST_KEY[-4:] in text
    assert_clean("the report", text)
    check("the report", text)


APP = textwrap.dedent(f"""
    import os, sys
    from relay_tui.app import AppOptions, RelayApp, make_app

    def boom(self):
        headers = {{"Authorization": "Bearer " + os.environ["RELAY_TUI_API_KEY"]}}
        proxy = "socks5://alice:{PROXY_PASSWORD}@127.0.0.1:1080"
        raise RuntimeError("crashed holding " + repr(headers) + " " + proxy)

    RelayApp.action_pick_model = boom   # ctrl+t now crashes, inside a frame holding the key
    app = make_app(AppOptions(demo=True))
    app.run()
    sys.exit(app.return_code)
""")


def test_a_tui_crash_shows_one_line_and_no_secret(isolated_home, tmp_path):
    script = tmp_path / "crashing_app.py"
    script.write_text(APP)
    env = {"RELAY_TUI_HOME": str(isolated_home), "RELAY_TUI_API_KEY": TEST_KEY}
    with PtyApp([], env, command=[sys.executable, str(script)]) as app:
        app.wait_for("Ask anything", 30, "the app")
        deadline = time.monotonic() + 20
        while app.proc.poll() is None:  # keys sent before the app listens are dropped
            assert time.monotonic() < deadline, app.screen()
            app.send("ctrl+t")
            time.sleep(0.5)
        code = app.proc.wait(5)
        time.sleep(0.3)  # the reader thread takes the last bytes
        output = app.output()
    assert code == 70
    assert_clean("the terminal", output)
    assert "internal error (RuntimeError: crashed holding {'Authorization': 'Bearer sk-…" in output
    assert "Traceback" not in output and "locals" not in output
    (report,) = reports(isolated_home)
    text = report.read_text()
    assert report.stat().st_mode & 0o777 == 0o600 and "boom" in text
    assert_clean("the report", text)


def test_socks5_proxies_with_credentials_work(demo_relay, isolated_home, capsys, monkeypatch):
    proxy = SocksProxy(auth=("alice", PROXY_PASSWORD), hosts={"relay.example.test": "127.0.0.1"})
    proxy.start()
    try:
        port = demo_relay.base_url.split(":")[2].split("/")[0]
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        save_profile(Profile(name="s", base_url=f"http://relay.example.test:{port}/v1",
                             proxy=f"socks5h://alice:{PROXY_PASSWORD}@127.0.0.1:{proxy.port}",
                             default_model="gpt-4.1", key_env="RELAY_TUI_API_KEY"), make_active=True)
        code, out, err = run_cli(capsys, "chat", "hello")
        assert code == 0 and out.strip(), err
        assert proxy.connects == [("relay.example.test", int(port))]  # socks5h: the proxy resolved it
        save_profile(Profile(name="s", base_url=f"http://relay.example.test:{port}/v1",
                             proxy=f"socks5h://alice:wrong-{PROXY_PASSWORD}@127.0.0.1:{proxy.port}",
                             default_model="gpt-4.1", key_env="RELAY_TUI_API_KEY"))
        code, out, err = run_cli(capsys, "chat", "hello")
    finally:
        proxy.stop()
    lines = [line for line in err.splitlines() if "is not encrypted" not in line]  # http:// warning
    assert code == 1 and len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"relay-tui: the proxy 127.0.0.1:{proxy.port} failed on the way to "
                               f"relay.example.test:{port}: Invalid username/password — check the user "
                               "and password in the proxy URL")  # not retried: it cannot get better
    assert_clean("stderr", err)
