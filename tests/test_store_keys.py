"""Keys: environment first, then the OS keyring; never a plain file; masked; aged for rotation."""

from __future__ import annotations

import json
import time

import keyring
import keyring.backend
import pytest
from keyring.backends import fail

from relay_tui.store import keys
from relay_tui.store.keys import KeyringUnavailable
from relay_tui.store.paths import state_dir
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY

WORK = Profile(name="work", base_url="https://relay.example.com/v1", key_env="WORK_RELAY_KEY")
OTHER_KEY = "sk-env-0a1b2c3d4e5f60718293a4b5c6d7e8f9"


class LockedKeyring(keyring.backend.KeyringBackend):
    """A backend that fails the way a locked Secret Service does, echoing what it was given."""

    priority = 1  # type: ignore[assignment]

    def get_password(self, service, username):
        raise keyring.errors.KeyringLocked("the collection is locked")

    def set_password(self, service, username, password):
        raise keyring.errors.PasswordSetError(f"could not store {password}")

    def delete_password(self, service, username):
        raise keyring.errors.KeyringLocked("the collection is locked")


def test_keyring_set_get_delete(memory_keyring):
    keys.set_key("work", TEST_KEY)
    assert memory_keyring.store == {("relay-tui", "work"): TEST_KEY}
    assert keys.get_key(WORK) == TEST_KEY
    assert keys.key_source(WORK) == "keyring"
    assert keys.delete_key("work") is True
    assert keys.get_key(WORK) is None and keys.key_source(WORK) is None
    assert keys.delete_key("work") is False


def test_environment_wins_over_the_keyring(monkeypatch):
    keys.set_key("work", TEST_KEY)
    monkeypatch.setenv("RELAY_TUI_API_KEY", "sk-global-aaaaaaaaaaaaaaaa\n")
    assert keys.get_key(WORK) == "sk-global-aaaaaaaaaaaaaaaa"
    assert keys.key_source(WORK) == "env RELAY_TUI_API_KEY"
    monkeypatch.setenv("RELAY_TUI_API_KEY", "")          # empty counts as unset
    assert keys.get_key(WORK) == TEST_KEY and keys.key_source(WORK) == "keyring"


def test_the_profiles_own_variable_wins_over_the_global_one(monkeypatch):
    """A key named for this relay (key_env) is never replaced by RELAY_TUI_API_KEY, which may
    hold another relay's key: RELAY_TUI_API_KEY only stands in where the profile names none."""
    keys.set_key("work", TEST_KEY)
    monkeypatch.setenv("RELAY_TUI_API_KEY", "sk-global-aaaaaaaaaaaaaaaa")
    monkeypatch.setenv("WORK_RELAY_KEY", OTHER_KEY)
    assert keys.get_key(WORK) == OTHER_KEY and keys.key_source(WORK) == "env WORK_RELAY_KEY"
    monkeypatch.setenv("WORK_RELAY_KEY", "  ")           # blank counts as unset
    assert keys.key_source(WORK) == "env RELAY_TUI_API_KEY"
    plain = Profile(name="plain", base_url="https://other.example.com/v1")
    assert keys.get_key(plain) == "sk-global-aaaaaaaaaaaaaaaa"


@pytest.mark.parametrize("key, shown", [
    (TEST_KEY, "sk-…b5c7"),
    ("sk-or-v1-0123456789abcdef0123", "sk-…0123"),
    ("0123456789abcdefWXYZ", "…WXYZ"),
    ("averylongprefixwithoutdash-abcdefgh", "…efgh"),
    ("sk-short", "…"),
])
def test_masking(key, shown):
    assert keys.mask(key) == shown


def test_key_age_is_recorded_without_the_key():
    assert keys.key_age_days("work") is None and not keys.needs_rotation("work")
    keys.set_key("work", TEST_KEY)
    assert 0 <= keys.key_age_days("work") < 0.01
    assert not keys.needs_rotation("work")
    meta_path = state_dir() / "key-meta.json"
    assert TEST_KEY[:12] not in meta_path.read_text()
    meta = json.loads(meta_path.read_text())
    meta["work"]["set_at"] = time.time() - 91 * 86400
    meta_path.write_text(json.dumps(meta))
    assert 90.9 < keys.key_age_days("work") < 91.1
    assert keys.needs_rotation("work") and not keys.needs_rotation("work", days=120)
    keys.delete_key("work")
    assert keys.key_age_days("work") is None


def test_no_backend_says_to_use_the_environment_variable(monkeypatch):
    keyring.set_keyring(fail.Keyring())
    with pytest.raises(KeyringUnavailable) as info:
        keys.get_key(WORK)
    assert str(info.value) == ("no OS keyring backend is available; "
                               "set WORK_RELAY_KEY (or RELAY_TUI_API_KEY) instead")
    with pytest.raises(KeyringUnavailable, match="RELAY_TUI_API_KEY"):
        keys.set_key("work", TEST_KEY)
    assert keys.key_age_days("work") is None
    assert keys.key_source(WORK) is None
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    assert keys.get_key(WORK) == TEST_KEY


def test_a_plain_file_keyring_is_refused(tmp_path):
    file_backend = pytest.importorskip("keyrings.alt.file")
    backend = file_backend.PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring_pass.cfg")
    keyring.set_keyring(backend)
    with pytest.raises(KeyringUnavailable, match="no OS keyring backend.*RELAY_TUI_API_KEY"):
        keys.set_key("work", TEST_KEY)
    assert not (tmp_path / "keyring_pass.cfg").exists()


def test_a_failing_backend_is_one_line_without_the_key():
    keyring.set_keyring(LockedKeyring())
    with pytest.raises(KeyringUnavailable) as info:
        keys.set_key("work", TEST_KEY)
    message = str(info.value)
    assert "could not store" in message and "RELAY_TUI_API_KEY" in message
    assert TEST_KEY not in message and "\n" not in message
    with pytest.raises(KeyringUnavailable, match="locked"):
        keys.get_key(WORK)
