"""config.toml: validation with file:line:column, edits that keep comments, no keys in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay_tui.store import config, paths
from relay_tui.store.config import ConfigError, load_settings
from relay_tui.store.profile import Price, Profile

FULL = Profile(name="work", base_url="https://relay.example.com/v1", default_model="gpt-4.1",
               headers={"X-Title": "relay-tui"}, quota_dialect="newapi-token",
               prices={"gpt-4.1": Price(2.0, 8.0)}, proxy="http://127.0.0.1:3128",
               key_env="WORK_RELAY_KEY", connect_timeout=3.0, first_byte_timeout=20.0,
               idle_timeout=15.0, max_retries=1)

# Written into config.toml on purpose (as a user might), so not the PASTED_KEY the leak check hunts.
PASTED_KEY = "sk-pasted-7c1e9a2b4d6f8a0c2e4b6d8f"

COMMENTED = """\
# my relays
theme = "nord"   # dark, please

[profiles.home]  # the box under the desk
base_url = "http://127.0.0.1:4000/v1"  # LiteLLM
"""


def write(text: str) -> Path:
    path = paths.config_path()
    path.write_text(text)
    return path


def error_for(text: str) -> str:
    path = write(text)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(f"{path}:"), str(info.value)
    return str(info.value)


def test_every_path_is_under_relay_tui_home(isolated_home):
    for found in (paths.config_path(), paths.history_path(), paths.exports_dir(), paths.state_dir()):
        assert found.is_relative_to(isolated_home)
    assert paths.exports_dir().is_dir()


def test_missing_file_is_an_empty_configuration():
    settings = load_settings()
    assert settings.profiles == {} and settings.active_profile is None
    assert settings.quota_alert_thresholds == (0.75, 0.90)
    assert not paths.config_path().exists()


def test_a_saved_profile_reads_back_identical():
    config.save_profile(FULL, make_active=True)
    settings = load_settings()
    assert settings.profiles == {"work": FULL}
    assert settings.active_profile == "work"


def test_edits_keep_the_users_comments_and_other_profiles():
    write(COMMENTED)
    config.save_profile(FULL, make_active=True)
    config.set_ui_value("theme", "textual-light")
    config.set_ui_value("quota.refresh_seconds", 60)
    text = paths.config_path().read_text()
    for comment in ("# my relays", "# the box under the desk", "# LiteLLM", "# dark, please"):
        assert comment in text
    settings = load_settings()
    assert set(settings.profiles) == {"home", "work"}
    assert settings.theme == "textual-light" and settings.quota_refresh_seconds == 60


def test_saving_again_replaces_the_profile_and_drops_cleared_fields():
    config.save_profile(FULL)
    plain = Profile(name="work", base_url="https://other.example.com/v1")
    config.save_profile(plain)
    assert load_settings().profiles == {"work": plain}
    text = paths.config_path().read_text()
    assert "headers" not in text and "prices" not in text and "key_env" not in text


def test_removing_the_active_profile_makes_the_only_one_left_active():
    """What commands use is what the file says: the one profile left, written as active."""
    write(COMMENTED)
    config.save_profile(FULL, make_active=True)
    assert config.remove_profile("work") is True
    assert config.remove_profile("work") is False
    settings = load_settings()
    assert set(settings.profiles) == {"home"} and settings.active_profile == "home"
    assert "# LiteLLM" in paths.config_path().read_text()


def test_removing_the_active_profile_of_several_leaves_none_active():
    write(COMMENTED)
    config.save_profile(FULL, make_active=True)
    config.save_profile(Profile(name="third", base_url="https://third.example.com/v1"))
    assert config.remove_profile("work") is True
    settings = load_settings()
    assert settings.active_profile is None and settings.effective_profile is None


def test_making_an_unknown_profile_active_is_refused():
    write(COMMENTED)
    with pytest.raises(ConfigError, match="no profile named 'nope'"):
        config.set_active_profile("nope")
    config.set_active_profile("home")
    assert load_settings().active_profile == "home"


def test_a_syntax_error_names_file_line_and_column():
    message = error_for('theme = "nord"\n[profiles.work]\nbase_url = \n')
    assert message.endswith(":3:12: TOML syntax error: Invalid value")


def test_an_unterminated_string_points_at_the_end():
    assert ":2:11: TOML syntax error: Unterminated string" in error_for('a = 1\ntheme = "x')


@pytest.mark.parametrize("line, complaint", [
    ('quota_dialect = "one-api"', "unknown quota dialect"),
    ('base_url = "ftp://relay.example.com"', "must be a URL starting with http:// or https://"),
    ('idle_timeout = -5', "must be a number of seconds above 0"),
    ('connect_timeout = "10"', "must be a number of seconds above 0"),
    ('max_retries = 1.5', "must be a whole number"),
    ('timeout = 10', "unknown setting"),
])
def test_a_wrong_value_names_its_line_and_column(line, complaint):
    text = f'[profiles.work]\nbase_url = "https://relay.example.com/v1"\n{line}\n'
    if line.startswith("base_url"):
        text = f"[profiles.work]\n{line}\n"
    message = error_for(text)
    row = text.splitlines().index(line) + 1
    assert f":{row}:" in message and complaint in message


def test_a_key_in_the_config_is_refused_without_repeating_it():
    message = error_for('[profiles.work]\nbase_url = "https://relay.example.com/v1"\n'
                        f'api_key = "{PASTED_KEY}"\n')
    assert ":3:11: profiles.work.api_key:" in message
    assert "relay-tui keys set work" in message
    assert PASTED_KEY not in message and PASTED_KEY[-6:] not in message


def test_an_authorization_header_is_refused_without_repeating_it():
    message = error_for('[profiles.work]\nbase_url = "https://relay.example.com/v1"\n'
                        f'[profiles.work.headers]\nAuthorization = "Bearer {PASTED_KEY}"\n')
    assert ":4:" in message and "relay-tui keys set work" in message
    assert PASTED_KEY not in message


def test_a_broken_file_is_not_edited():
    path = write("theme = \n")
    with pytest.raises(ConfigError, match=":1:9:"):
        config.save_profile(FULL)
    assert path.read_text() == "theme = \n"


def test_an_edit_that_would_be_invalid_is_not_written():
    write(COMMENTED)
    with pytest.raises(ConfigError, match="quota.refresh_seconds"):
        config.set_ui_value("quota.refresh_seconds", -1)
    assert paths.config_path().read_text() == COMMENTED


def test_other_top_level_values_are_kept_as_ui_settings():
    config.set_ui_value("compare_blind", True)
    assert load_settings().ui == {"compare_blind": True}
    config.set_ui_value("compare_blind", None)
    assert load_settings().ui == {}
