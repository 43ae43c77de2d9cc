"""Usage errors: a wrong option or argument is exit 2 with a line naming it, before any request."""

from __future__ import annotations

import json

import pytest

from relay_tui.cli import main
from relay_tui.store import config
from tests.conftest import TEST_KEY


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def relay_env(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return ["--base-url", demo_relay.base_url]


def test_an_unknown_quota_dialect_is_a_usage_error(capsys, relay_env, demo_relay):
    code, out, err = run(capsys, *relay_env, "quota", "--dialect", "bogus")
    assert code == 2 and out == ""
    assert "argument --dialect: invalid choice: 'bogus'" in err
    for name in config.DIALECTS:
        if name != "none":
            assert repr(name) in err                      # the choices, as the config knows them
    assert demo_relay.books()["used_usd"] == 0


def test_a_known_quota_dialect_is_read(capsys, relay_env):
    code, out, err = run(capsys, *relay_env, "quota", "--dialect", "newapi-token", "--json")
    assert code == 0, err
    assert json.loads(out)["dialect"] == "newapi-token"


def test_removing_a_profile_that_does_not_exist(capsys, demo_relay):
    code, out, err = run(capsys, "profiles", "remove", "nope")
    assert code == 2 and out == ""
    assert err.strip() == ("relay-tui: there is no profile named 'nope' (profiles: none yet); "
                           "see `relay-tui profiles list`")
    for name in ("work", "home"):
        assert run(capsys, "profiles", "add", name, "--base-url", demo_relay.base_url)[0] == 0
    code, out, err = run(capsys, "profiles", "remove", "nope")
    assert code == 2 and "removed" not in out + err
    assert "(profiles: home, work)" in err
    code, out, _ = run(capsys, "profiles", "remove", "work")
    assert code == 0 and out.startswith("profile work removed")
    assert list(config.load_settings().profiles) == ["home"]


@pytest.mark.parametrize("argv, says", [
    (["--base-url", "notaurl"], "argument --base-url/--url: must be a URL starting with http:// or https://"),
    (["--base-url", "ftp://relay.example.com/v1"], "argument --base-url/--url: must be a URL starting"),
    (["--base-url", "https://relay.example.com:port/v1"], "argument --base-url/--url: must be a URL"),
    (["--base-url", "https://r.example.com/v1", "--quota-dialect", "bogus"],
     "argument --quota-dialect: invalid choice: 'bogus'"),
    (["--base-url", "https://r.example.com/v1", "--proxy", "proxy:3128"],
     "argument --proxy: must be a URL starting with http:// or https:// or socks5:// or socks5h://"),
    (["--base-url", "https://r.example.com/v1", "--key-env", "sk-live-123"],
     "argument --key-env: must name an environment variable"),
    (["--base-url", "https://r.example.com/v1", "--model", " "], "relay-tui: --model: must be a non-empty"),
    (["--base-url", "https://r.example.com/v1", "--header", "Authorization=Bearer sk-live-123"],
     "relay-tui: --header Authorization: keys do not belong in headers; store it with "
     "`relay-tui keys set work`"),
    (["--base-url", "https://r.example.com/v1", "--header", "X-Title"], "relay-tui: --header takes NAME=VALUE"),
])
def test_profiles_add_names_the_flag_not_a_file_line(argv, says, capsys):
    code, out, err = run(capsys, "profiles", "add", "work", *argv)
    assert code == 2 and out == ""
    assert says in err, err
    assert "config.toml" not in err and "sk-live-123" not in err
    assert not config.load_settings().profiles               # nothing was saved


def test_profiles_add_over_a_broken_config_points_at_the_file(capsys):
    path = config.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[profiles.home]\nbase_url = "nope"\n', encoding="utf-8")
    code, _, err = run(capsys, "profiles", "add", "work", "--base-url", "https://r.example.com/v1")
    assert code == 2 and err.strip() == (f"relay-tui: {path}:2:12: profiles.home.base_url: must be a "
                                         f"URL starting with http:// or https://")


@pytest.mark.parametrize("command", [["models"], ["chat", "-m", "gpt-4.1", "hi"], []])
def test_a_global_base_url_that_is_no_url_is_a_usage_error(command, capsys, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    code, out, err = run(capsys, "--base-url", "notaurl", *command)
    assert code == 2 and out == ""
    assert "relay-tui: error: argument --base-url: must be a URL starting with http:// or https://" in err
    assert "[request" not in err


def no_request_was_made() -> bool:
    from relay_tui.store.history import History
    from relay_tui.store.paths import history_path

    if not history_path().exists():
        return True
    with History() as history:
        return not history.requests()


@pytest.mark.parametrize("models, count", [("gpt-4.1", 1), (",".join(["gpt-4.1"] * 9), 9)])
def test_compare_takes_2_to_8_models(models, count, capsys, relay_env):
    code, out, err = run(capsys, *relay_env, "compare", "-m", models, "hi")
    assert code == 2 and out == ""
    assert err.startswith(f"relay-tui: compare takes 2 to 8 models, not {count}: -m A,B[,C...]"), err
    assert no_request_was_made()


def test_compare_may_take_one_model_twice(capsys, relay_env):
    code, out, err = run(capsys, *relay_env, "compare", "-m", "gpt-4.1,gpt-4.1", "--json", "hi")
    assert code == 0, err
    assert [c["model"] for c in json.loads(out)["columns"]] == ["gpt-4.1", "gpt-4.1"]


def test_compare_prompts_file_and_a_prompt_is_a_usage_error(capsys, relay_env, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("first\nsecond\n", encoding="utf-8")
    code, out, err = run(capsys, *relay_env, "compare", "-m", "gpt-4.1,gemini-2.5-flash",
                         "--prompts", str(prompts), "and this one")
    assert code == 2 and out == ""
    assert err.strip() == "relay-tui: give either --prompts FILE or a prompt, not both"
    assert no_request_was_made()


@pytest.mark.parametrize("command", [["chat", "-m", "gpt-4.1", "hi"],
                                     ["compare", "-m", "gpt-4.1,gemini-2.5-flash", "hi"],
                                     ["bench", "-m", "gpt-4.1", "-n", "1"]])
@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_max_tokens_must_be_positive(command, value, capsys, relay_env):
    code, out, err = run(capsys, *relay_env, *command, "--max-tokens", value)
    assert code == 2 and out == ""
    assert f"argument --max-tokens: must be a whole number from 1 to 1,000,000, not '{value}'" in err
    assert no_request_was_made()


@pytest.mark.parametrize("where", ["/etc/passwd/x", "file"])
def test_screenshots_into_a_path_that_cannot_be_a_directory(where, capsys, tmp_path):
    if where == "file":
        where = tmp_path / "taken"
        where.write_text("a file, not a folder", encoding="utf-8")
    code, out, err = run(capsys, "screenshots", str(where))
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith(f"relay-tui: cannot write screenshots to {where}: "), line
    assert "give a directory" in line


def every_option():
    """(command, option strings, help) of every option of every command, --help aside."""
    import argparse

    from relay_tui.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in [("", parser), *commands.choices.items()]:
        for action in sub._actions:
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                yield name, action.option_strings or [action.dest], action.help


def test_every_option_has_help_text():
    """`-t`, `--max-tokens`, `--prompt` and bench's `-m` had none in `--help`."""
    missing = [(command, options) for command, options, help_text in every_option() if not help_text]
    assert missing == []


def test_an_unknown_option_gets_the_commands_own_usage(capsys):
    code, out, err = run(capsys, "--demo", "chat", "--bogus", "hi")
    assert code == 2 and out == ""
    assert err.startswith("usage: relay-tui chat ")  # was the top-level usage
    assert err.strip().endswith("relay-tui chat: error: unrecognized arguments: --bogus")


@pytest.mark.parametrize("value", ["5", "-0.1", "warm"])
def test_temperature_out_of_range_is_refused_before_any_request(capsys, relay_env, demo_relay, value):
    code, out, err = run(capsys, *relay_env, "chat", "-m", "gpt-4.1", "-t", value, "hi")
    assert code == 2 and out == ""
    assert f"argument -t/--temperature: must be a number from 0 to 2, not '{value}'" in err
    assert demo_relay.books()["requests"] == 0


@pytest.mark.parametrize("flag", ["-n", "-c"])
def test_bench_counts_must_be_positive(capsys, relay_env, flag):
    code, _, err = run(capsys, *relay_env, "bench", "-m", "gpt-4.1", flag, "0")
    assert code == 2 and f"argument {flag}" in err and "must be a whole number from 1" in err
