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
    ("lone surrogate", '{"prompt": "a \\ud800 b"}', "the prompt holds a lone surrogate"),
    ("NaN", '{"prompt": NaN}', "a JSONL line needs a \"prompt\" field holding text"),
]


@pytest.mark.parametrize("text, said", [c[1:] for c in PROMPT_FILES], ids=[c[0] for c in PROMPT_FILES])
def test_a_hostile_prompt_file_is_one_line_naming_its_line(relay_args, capsys, tmp_path, text, said):
    path = tmp_path / "prompts.jsonl"
    path.write_text("first prompt\n" + text + "\n", encoding="utf-8")
    code, out, err = run_cli(capsys, *relay_args, "compare", "-m", "gpt-4.1,gpt-4.1", "--prompts", str(path))
    assert (code, out) == (2, "")
    assert one_line(err).startswith(f"relay-tui: {path}:2: {said}")


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
