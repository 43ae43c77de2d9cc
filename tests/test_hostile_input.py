"""Hostile input from the user's side of the app: stdin, argv, prompt files, config.toml, theme
files and the environment. Whatever they hold, the outcome is one line (exit 2 for a bad input)
and nothing unsafe reaches the terminal, the history or the relay.

Run in-process (`main()` with the streams replaced) where that shows what a user sees, as real
processes where the bytes themselves matter (stdin as bytes, a locale)."""

from __future__ import annotations

import io

import pytest

from relay_tui.store.history import History
from tests.conftest import TEST_KEY
from tests.support.hostile import HOSTILE, check
from tests.test_cli import run_cli


class _Stdin:
    """stdin as a pipe carrying these bytes."""

    def __init__(self, data: bytes):
        self.buffer = io.BytesIO(data)

    def isatty(self) -> bool:
        return False

    def read(self) -> str:  # the text layer, as a C locale decodes it (surrogateescape)
        return self.buffer.read().decode("utf-8", "surrogateescape")

    def readline(self) -> str:
        return self.buffer.readline().decode("utf-8", "surrogateescape")


@pytest.fixture
def relay_args(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return ["--base-url", demo_relay.base_url]


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    check("stderr", err)
    return err.strip()


@pytest.mark.parametrize("data, byte", [(b"\xff", 1), (b"hello \xe2\x82", 7), (b"\xc0\xaf", 1)])
@pytest.mark.parametrize("command", [["chat", "-m", "gpt-4.1"], ["compare", "-m", "gpt-4.1,gpt-4.1"]])
def test_stdin_that_is_not_utf8_is_one_line(relay_args, capsys, monkeypatch, data, byte, command):
    monkeypatch.setattr("sys.stdin", _Stdin(data))
    code, out, err = run_cli(capsys, *relay_args, *command, "-")
    assert (code, out) == (2, "")
    assert one_line(err) == (f"relay-tui: stdin is not UTF-8 text (byte {byte}) — convert it first, "
                             f"e.g. `iconv -f LATIN1 -t UTF-8`")
    with History() as history:
        assert history.conversations() == [] and history.requests() == []


def test_stdin_with_a_bom_and_controls_is_sent_as_typed_and_shown_inert(relay_args, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", _Stdin("\ufeffsay \x1b]0;x\x07 hi".encode()))
    code, out, err = run_cli(capsys, *relay_args, "chat", "-m", "gpt-4.1", "-")
    assert code == 0, err
    check("stdout", out)
    with History() as history:
        prompt = history.messages(history.conversations()[0].id)[0].content
    assert prompt == "say \x1b]0;x\x07 hi"  # the user's own prompt, kept; the BOM is no part of it


@pytest.mark.parametrize("name", ["e\x1b[2J", "work\u202e", "zero\u200bwidth", " padded"])
def test_a_profile_name_with_controls_is_refused(capsys, name):
    code, out, err = run_cli(capsys, "profiles", "add", name, "--base-url", "https://relay.example.com/v1")
    assert (code, out) == (2, "") and "a profile name is typed on the command line" in one_line(err)


def test_a_key_piped_with_non_ascii_bytes_is_refused_and_not_echoed(capsys, monkeypatch):
    run_cli(capsys, "profiles", "add", "work", "--base-url", "https://relay.example.com/v1")
    monkeypatch.setattr("sys.stdin", _Stdin(b"sk-abc\xffdef123456\n"))
    code, out, err = run_cli(capsys, "keys", "set", "work")
    assert (code, out) == (2, "")
    assert "a key is printable ASCII" in one_line(err) and "abc" not in err


PROMPT_FILES = [
    ("deep JSON", "{" * 100_000, "a JSONL line needs a \"prompt\" field holding text"),
    ("deep prompt", '{"prompt": ' + "[" * 100_000 + "}", "a JSONL line needs a \"prompt\" field holding text"),
    ("null prompt", '{"prompt": null}', "a JSONL line needs a \"prompt\" field holding text"),
    ("number prompt", '{"prompt": 42}', "a JSONL line needs a \"prompt\" field holding text"),
    ("list prompt", '{"prompt": ["a"]}', "a JSONL line needs a \"prompt\" field holding text"),
    ("blank prompt", '{"prompt": "  "}', "a JSONL line needs a \"prompt\" field holding text"),
    ("NaN", '{"prompt": NaN}', "a JSONL line needs a \"prompt\" field holding text"),
]


@pytest.mark.parametrize("text, said", [c[1:] for c in PROMPT_FILES], ids=[c[0] for c in PROMPT_FILES])
def test_a_hostile_prompt_file_is_one_line_naming_its_line(relay_args, capsys, tmp_path, text, said):
    path = tmp_path / "prompts.jsonl"
    path.write_text("first prompt\n" + text + "\n", encoding="utf-8")
    code, out, err = run_cli(capsys, *relay_args, "compare", "-m", "gpt-4.1,gpt-4.1", "--prompts", str(path))
    assert (code, out) == (2, "")
    assert one_line(err).startswith(f"relay-tui: {path}:2: {said}")


def test_a_lone_surrogate_escape_in_a_prompt_file_is_sent_as_u_fffd(relay_args, capsys, tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "a \\ud800 b"}\n', encoding="utf-8")
    code, out, err = run_cli(capsys, *relay_args, "compare", "-m", "gpt-4.1,gpt-4.1", "--prompts", str(path))
    assert code == 0, err
    with History() as history:
        assert history.comparisons()[0].prompt == "a \ufffd b"  # as JSON decoders with replacement read it


def test_a_prompt_file_that_is_not_utf8_is_one_line(relay_args, capsys, tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_bytes(b"caf\xe9\n")
    code, out, err = run_cli(capsys, *relay_args, "compare", "-m", "gpt-4.1,gpt-4.1", "--prompts", str(path))
    assert (code, out) == (2, "") and one_line(err) == f"relay-tui: {path} is not UTF-8 text"


def test_hostile_prompts_from_a_file_are_shown_inert(relay_args, capsys, tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text(HOSTILE.replace("\n", " ").replace("\u2028", " ").replace("\u2029", " ")
                    + "\nsecond\n", encoding="utf-8")
    code, out, err = run_cli(capsys, *relay_args, "compare", "-m", "gpt-4.1,gpt-4.1", "--prompts", str(path))
    assert code == 0, err
    check("stdout", out)
    check("stderr", err)
    assert "[1/2] " in err


HOSTILE_THEMES = {  # file -> what the one toast says about it
    "escapes.toml": ('name = "evil\\u001b]0;pwned\\u0007\\u202e"\ndark = true\nprimary = "#ff0000"\n',
                     "'name' must be plain text"),
    "nan.toml": ('name = "nan"\ndark = true\nprimary = "#ff0000"\nluminosity_spread = nan\n',
                 "'luminosity_spread' must be a number from 0 to 1"),
    "huge.toml": ('name = "huge"\ndark = true\nprimary = "#ff0000"\ntext_alpha = -1e308\n',
                  "'text_alpha' must be a number from 0 to 1"),
    "inject.toml": ('name = "inject"\ndark = true\nprimary = "#ff0000"\n[variables]\n'
                    '"footer-key-foreground" = "red; } Screen { display: none; } X {"\n',
                    "[variables] 'footer-key-foreground' must be a CSS name"),
    "deep.toml": ('name = "deep"\ndark = true\nprimary = "#ff0000"\na = ' + "[" * 5000 + "]" * 5000 + "\n",
                  "TOML nested too deeply to read"),
}


async def test_hostile_theme_files_are_one_toast_and_the_app_runs(demo_relay, monkeypatch):
    """Theme files are the user's, but shared and downloaded: a name with escapes (shown in the
    picker, saved in config.toml), NaN or 1e308 for the colour maths (the app crashed), CSS
    breaking out of its declaration (the stylesheet failed to parse: crashed), nesting that
    exhausts tomllib's recursion. Each is skipped with its line in the one toast."""
    from relay_tui.app import AppOptions, make_app
    from relay_tui.store.paths import config_dir

    folder = config_dir() / "themes"
    folder.mkdir(parents=True)
    for name, (text, _) in HOSTILE_THEMES.items():
        (folder / name).write_text(text, encoding="utf-8")
    (config_dir() / "config.toml").write_text('theme = "inject"\n', encoding="utf-8")
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.pause()
        assert app.theme == "relay-night" and app.is_running
        (toast,) = app._notifications
        check("the toast", toast.message)
        for name, (_, said) in HOSTILE_THEMES.items():
            assert f"• {name}: {said}" in toast.message


@pytest.mark.parametrize("text, said", [
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "TOML nested too deeply to read"),
    ('[profiles.a]\nbase_url = "http://127.0.0.1:9/v1\\u001b[2J"\n', "profiles.a.base_url: must be a URL"),
    ('[profiles.a]\nbase_url = "http://127.0.0.1:9/v1 extra"\n', "profiles.a.base_url: must be a URL"),
    ('[profiles.a]\nbase_url = "http://127.0.0.1:9/v1"\nproxy = "http://u:p@\\u001b[2J:1"\n',
     "profiles.a.proxy: must be a URL"),
], ids=["deep", "escape in base_url", "space in base_url", "escape in proxy"])
def test_a_hostile_config_toml_is_one_line(capsys, text, said):
    from relay_tui.store.paths import config_path

    config_path().write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "models")
    assert (code, out) == (2, "") and said in one_line(err) and "u:p" not in err


@pytest.mark.parametrize("argv", [["--base-url", "http://127.0.0.1:9/v1\x1b[2J"],
                                  ["--base-url", "http://127.0.0.1:9/\u202ev1"]], ids=["escape", "bidi"])
def test_a_base_url_with_controls_is_a_usage_error(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        run_cli(capsys, *argv, "models")
    assert exit_.value.code == 2
    assert "must be a URL starting with http:// or https://" in capsys.readouterr().err


@pytest.mark.parametrize("name, text", [("deep.json", "[" * 100_000), ("deep.toml", "a = " + "[" * 100_000)])
def test_a_deep_faults_file_is_one_line(capsys, tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = run_cli(capsys, "demo-relay", "--faults", str(path))
    assert (code, out) == (2, "") and one_line(err).endswith(": nested too deeply")


@pytest.mark.parametrize("proxy", ["ftp://bob:s3cret-pw@127.0.0.1:9", "ht!tp://bob:s3cret-pw@[::1",
                                   "http://bob:s3cret-pw@\x1b[2J:9", "http://bob:s3cret-pw@127.0.0.1:port"])
def test_an_unusable_proxy_in_the_environment_is_one_line_without_its_password(capsys, monkeypatch, proxy):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY")
    code, out, err = run_cli(capsys, "--base-url", "https://relay.example.test/v1", "models")
    assert (code, out) == (1, "")
    assert one_line(err).startswith("relay-tui: the proxy URL in HTTPS_PROXY/ALL_PROXY is not usable")
    assert "s3cret" not in err and "bob" not in err


async def test_names_from_config_toml_are_inert_on_every_pane(demo_relay, monkeypatch):
    """A profile name and default model with escapes, a bidi override and Textual markup: the
    status bar, the profile picker, and the compare, quota and latency panes show them inert
    (the picker and the quota pane printed them raw; a str label is markup to Textual)."""
    from relay_tui.app import AppOptions, make_app
    from relay_tui.store.paths import config_path
    from tests.support.screen import screen_text

    config_path().write_text(
        'active_profile = "e\\u001b[2J\\u202e[/x]"\n[profiles."e\\u001b[2J\\u202e[/x]"]\n'
        f'base_url = "{demo_relay.base_url}"\ndefault_model = "gpt\\u001b]0;x\\u0007\\u202e[b]x[/b][/x]"\n'
        'key_env = "RELAY_TUI_API_KEY"\n', encoding="utf-8")
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = make_app(AppOptions())
    async with app.run_test(size=(120, 30)) as pilot:
        for key, shown in (("f2", "model gpt␛]0;x␇<U+202E>[b]x[/b][/x]"), ("ctrl+o", "e␛[2J<U+202E>[/x]  (current"),
                           ("escape", "e␛[2J<U+202E>[/x]  ·"), ("f3", "Models"), ("f4", "Quota · e␛[2J<U+202E>[/x]"),
                           ("f5", "profiles: all"), ("ctrl+e", "profiles: e␛[2J<U+202E>[/x]")):
            await pilot.press(key)
            deadline = 50
            while shown not in screen_text(app) and deadline:
                await pilot.pause(0.1)
                deadline -= 1
            check(f"the screen after {key}", screen_text(app))
            assert shown in screen_text(app), (key, screen_text(app))
