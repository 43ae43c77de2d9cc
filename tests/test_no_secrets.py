"""No secret anywhere: a whole session's files, exports, screenshots, outputs and errors hold no key.

A fresh throwaway key per run (the demo relay accepts only it) and a second one the relay rejects;
after a session through the CLI and the TUI that chats, compares, benches, reads quota, exports
every format, takes screenshots and meets errors (401, 500, an error mid-stream, a refused
connection, a relay that echoes the key back), every file under the app's home is searched for
each key and for its first 12 characters, and so is everything printed (every `--json` output
included) and every way an exception can be shown (str, repr, args, traceback, attributes).
"""

from __future__ import annotations

import json
import secrets
import traceback

import pytest

from relay_tui.app import AppOptions, make_app
from relay_tui.cli import main
from relay_tui.core.client import RelayClient
from relay_tui.core.errors import AuthError, ConnectionFailed, RelayError
from relay_tui.core.export import export_comparison, export_conversation
from relay_tui.demo import DemoRelay
from relay_tui.store.config import save_profile
from relay_tui.store.history import History
from relay_tui.store.keys import set_key
from relay_tui.store.paths import exports_dir
from relay_tui.store.profile import Profile
from relay_tui.ui.chat_messages import AnswerBlock
from relay_tui.ui.compare_pane import ComparePane
from tests.conftest import files_containing
from tests.support.quota_server import QuotaServer
from tests.support.screen import screen_text
from tests.test_tui_chat import send, until

KEY = "sk-" + secrets.token_hex(24)     # the profile's key: accepted by the relay
WRONG = "sk-" + secrets.token_hex(24)   # a key the relay rejects (it must not leak either)
NEEDLES = (KEY, KEY[:12], WRONG, WRONG[:12])


def assert_clean(text: str, where: str) -> None:
    found = [n for n in NEEDLES if n in text]
    assert not found, f"{where} shows a key ({found[0][:6]}…)"


def assert_no_key_in_files(root) -> None:
    for needle in NEEDLES:
        assert files_containing(root, needle.encode()) == []


@pytest.fixture
def relay():
    server = DemoRelay(time_scale=0.0, accept_keys=(KEY,))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def vault(relay):
    """Profile "vault" (active), its key in the keyring; no retries, so errors show at once."""
    save_profile(Profile(name="vault", base_url=relay.base_url, default_model="gpt-4.1", max_retries=0),
                 make_active=True)
    set_key("vault", KEY)
    return relay


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert_clean(out + err, f"`relay-tui {' '.join(argv)}`")
    return code, out, err


def test_cli_session_outputs_exports_and_files_hold_no_key(vault, capsys, isolated_home, monkeypatch):
    relay = vault
    for argv in (["models", "--json"], ["chat", "--json", "hi"], ["quota", "--json"],
                 ["compare", "--json", "-m", "gpt-4.1,claude-sonnet-4.5", "compare these"],
                 ["bench", "--json", "-m", "gpt-4.1", "-n", "3", "-c", "2"], ["profiles", "list", "--json"]):
        code, out, _ = cli(capsys, *argv)
        assert code == 0
        json.loads(out)  # every --json output is JSON (and was searched above)
    code, out, _ = cli(capsys, "chat", "a plain chat")
    assert code == 0 and out.strip()
    code, out, _ = cli(capsys, "keys", "list")
    assert code == 0 and f"sk-…{KEY[-4:]}" in out  # masked: the last four only

    # errors: a 500, an error mid-stream, a wrong key, a refused connection; with and without --json
    relay.set_fault("server_error", times=2)
    for argv in (["chat", "boom"], ["chat", "--json", "boom"]):
        code, _, err = cli(capsys, *argv)
        assert code == 1 and err.startswith("relay-tui: the relay failed (HTTP 500)")
    relay.set_fault("mid_stream_error", times=1)
    code, out, err = cli(capsys, "chat", "cut me off")
    assert code == 1 and "mid-stream" in err
    monkeypatch.setenv("RELAY_TUI_API_KEY", WRONG)
    for argv in (["--base-url", relay.base_url, "chat", "-m", "gpt-4.1", "hi"],
                 ["--base-url", relay.base_url, "models", "--json"],
                 ["--base-url", relay.base_url, "quota", "--json"],
                 ["--base-url", "http://127.0.0.1:9/v1", "models", "--json"]):
        code, _, err = cli(capsys, *argv)
        assert code == 1 and err.startswith("relay-tui: ") and len(err.strip().splitlines()) == 1, (argv, err)

    # exports in every format, into the app's exports folder
    history = History()
    try:
        written = [export_conversation(history, conv.id, fmt)
                   for conv in history.conversations() for fmt in ("md", "json")]
        written += [export_comparison(history, comp.id, fmt)
                    for comp in history.comparisons() for fmt in ("md", "json", "csv")]
    finally:
        history.close()
    assert len(written) >= 5 * 2 + 3 and all(p.parent == exports_dir() for p in written)
    for path in written:
        assert_clean(path.read_text(encoding="utf-8"), path.name)
    assert_no_key_in_files(isolated_home)


async def test_tui_session_screens_exports_and_files_hold_no_key(vault, isolated_home):
    relay = vault
    app = make_app(AppOptions())
    async with app.run_test(size=(160, 48)) as pilot:
        pane = await send(pilot, "hello there")
        assert pane.query_one(AnswerBlock).text
        relay.set_fault("mid_stream_error", times=1)
        await send(pilot, "now fail half way")
        assert "mid-stream" in screen_text(app)
        await pilot.press("f9")  # export the chat (Markdown and JSON)
        await pilot.pause()

        await pilot.press("f3")
        compare = app.query_one(ComparePane)
        compare.query_one("#cmp-prompt").value = "compare, then export"
        await pilot.press("ctrl+r")
        await until(pilot, lambda: compare.query_one("#cmp-summary").has_class("-shown"), timeout=20)
        for fmt in ("md", "json", "csv"):  # what F8's format dialog calls
            compare.action_export(fmt)

        (isolated_home / "screens").mkdir()
        for name in ("chat", "compare", "quota", "latency"):
            app.action_show_pane(name)
            await pilot.pause(0.05)
            assert_clean(screen_text(app), f"the {name} pane")
            app.save_screenshot(filename=f"{name}.svg", path=str(isolated_home / "screens"))
        assert_clean(app.export_screenshot(), "a screenshot")
        assert f"sk-…{KEY[-4:]}" in screen_text(app)  # the status line shows the masked key
    exported = list(exports_dir().iterdir())
    assert sorted(p.suffix for p in exported) == [".csv", ".json", ".json", ".md", ".md"]
    assert len(list((isolated_home / "screens").glob("*.svg"))) == 4
    assert_no_key_in_files(isolated_home)


def test_screenshots_command_writes_no_key(capsys, isolated_home, monkeypatch):
    """`relay-tui screenshots` runs on the demo relay in a throwaway home, even with a key around."""
    monkeypatch.setenv("RELAY_TUI_API_KEY", KEY)
    code, out, _ = cli(capsys, "screenshots", str(isolated_home / "shots"), "--only", "help")
    assert code == 0 and out.strip().endswith("help.svg")
    assert_no_key_in_files(isolated_home)


def assert_clean_error(exc: RelayError) -> None:
    shown = [str(exc), repr(exc), *map(str, exc.args), "".join(traceback.format_exception(exc)),
             repr(vars(exc))]
    for text in shown:
        assert_clean(text, f"a {type(exc).__name__}")
    assert "\n" not in str(exc)


async def test_exceptions_never_carry_the_key(relay):
    async with RelayClient(Profile(name="p", base_url=relay.base_url, max_retries=0), WRONG) as client:
        with pytest.raises(AuthError) as info:
            await client.models()
        assert_clean_error(info.value)
        with pytest.raises(AuthError) as info:
            async for _ in client.stream_chat([{"role": "user", "content": "hi"}], "gpt-4.1"):
                pass
        assert_clean_error(info.value)
    async with RelayClient(Profile(name="p", base_url="http://127.0.0.1:9/v1"), KEY) as client:
        with pytest.raises(ConnectionFailed) as info:
            await client.models()
        assert_clean_error(info.value)
    bad_paste = KEY[:20] + " " + KEY[20:]
    async with RelayClient(Profile(name="p", base_url=relay.base_url), bad_paste) as client:
        with pytest.raises(AuthError) as info:
            await client.models()
        assert_clean_error(info.value)
        assert bad_paste[:12] not in str(info.value)


async def test_a_relay_that_echoes_the_key_is_masked():
    echo = {"error": {"message": f"Incorrect API key provided: {WRONG}. You can find your API key at "
                                 f"https://example.com", "type": "invalid_request_error",
                      "code": "invalid_api_key"}}
    with QuotaServer({"/v1/models": (401, echo)}) as server:
        async with RelayClient(Profile(name="p", base_url=server.url + "/v1"), WRONG) as client:
            with pytest.raises(AuthError) as info:
                await client.models()
    assert_clean_error(info.value)
    assert f"sk-…{WRONG[-4:]}" in str(info.value)
