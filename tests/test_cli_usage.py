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
