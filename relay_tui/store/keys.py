"""API keys: the OS keyring (service "relay-tui", one entry per profile) or an environment variable,
or, only when the user asks for it, a plain file readable by them alone.

An environment variable wins over the keyring when set, so scripts and CI need no keyring: first
the profile's own `key_env` (a key meant for that relay only), then `RELAY_TUI_API_KEY` (for any
relay), so the global variable never shadows the one a profile names for itself. Then the
keyring, then the key file. Keys never fall back to a plain file on their own: keyrings.alt's
PlaintextKeyring counts as no keyring, and the key file (`keys.json` beside config.toml, mode
0600) is written only by `set_key(..., insecure_file=True)` — `keys set --insecure-storage` or
the first-run form's explicit choice, both warned — as gh's `--insecure-storage` does for
machines without a keyring (SSH sessions, containers, WSL). The time a key was stored is kept in
`key-meta.json` (never the key) for the rotation reminder. `keyring` is imported only when a key
is needed: it costs ~90 ms.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from relay_tui.store.paths import config_dir, state_dir
from relay_tui.store.profile import Profile

SERVICE = "relay-tui"
ENV_VAR = "RELAY_TUI_API_KEY"
ROTATE_AFTER_DAYS = 90
_META_FILE = "key-meta.json"
KEY_FILE = "keys.json"
FILE_SOURCE = "file (plain text)"


class KeyringUnavailable(Exception):
    """No usable OS keyring; the message names the environment variable to use instead."""

    def __init__(self, reason: str = "no OS keyring backend is available", key_env: str | None = None):
        alternative = (f"{key_env} (or {ENV_VAR})" if key_env
                       else f"{ENV_VAR} (or the profile's key_env)")
        super().__init__(f"{reason}; set {alternative} instead")


def get_key(profile: Profile) -> str | None:
    """The key to use for `profile`: its key_env, then RELAY_TUI_API_KEY, then the keyring."""
    return _lookup(profile)[1]


def key_source(profile: Profile) -> str | None:
    """Where `get_key` finds the key ("env NAME", "keyring" or FILE_SOURCE), None when nowhere
    (or no keyring)."""
    try:
        source, _ = _lookup(profile)
    except KeyringUnavailable:
        return None
    return source


def set_key(profile_name: str, key: str, *, insecure_file: bool = False) -> None:
    """Store a key in the keyring (or, asked for, the key file) and note when (not what) it was
    stored. A key moved into the keyring leaves the file."""
    if insecure_file:
        _write_key_file({**_read_key_file(), profile_name: key})
    else:
        _call("store the key in", "set_password", profile_name, key, secret=key)
        _forget_file_key(profile_name)
    meta = _read_meta()
    meta[profile_name] = {"set_at": time.time()}
    _write_meta(meta)


def delete_key(profile_name: str) -> bool:
    """Remove the profile's key from the keyring and the key file; False when neither had one."""
    removed = _forget_file_key(profile_name)
    try:
        removed = _delete_from_keyring(profile_name) or removed
    except KeyringUnavailable:
        if not removed:  # nothing was deleted: say why
            raise
    meta = _read_meta()
    if meta.pop(profile_name, None) is not None:
        _write_meta(meta)
    return removed


def _delete_from_keyring(profile_name: str) -> bool:
    from keyring.errors import PasswordDeleteError

    if _call("read", "get_password", profile_name) is None:
        return False
    try:
        _call("delete the key from", "delete_password", profile_name)
    except KeyringUnavailable as exc:
        if not isinstance(exc.__cause__, PasswordDeleteError):
            raise
        return False
    return True


def mask(key: str) -> str:
    """`sk-…abcd`: the prefix up to the first '-' (when short) and the last 4 characters."""
    if len(key) < 16:
        return "…"
    dash = key.find("-")
    prefix = key[:dash + 1] if 0 < dash < 8 else ""
    return f"{prefix}…{key[-4:]}"


def key_age_days(profile_name: str) -> float | None:
    """Days since the key was stored with `set_key`; None when unknown (e.g. set outside the app)."""
    entry = _read_meta().get(profile_name)
    set_at = entry.get("set_at") if isinstance(entry, dict) else None
    if not isinstance(set_at, (int, float)):
        return None
    return max(0.0, (time.time() - set_at) / 86400)


def needs_rotation(profile_name: str, days: float = ROTATE_AFTER_DAYS) -> bool:
    age = key_age_days(profile_name)
    return age is not None and age >= days


def keyring_available() -> bool:
    """Whether an OS keyring can hold keys here (the first-run form offers it only then)."""
    try:
        _backend(None)
    except KeyringUnavailable:
        return False
    return True


def key_file_path() -> Path:
    return config_dir() / KEY_FILE


# -- internals ----------------------------------------------------------------------------------

def _lookup(profile: Profile) -> tuple[str | None, str | None]:
    for var in (profile.key_env, ENV_VAR):
        value = os.environ.get(var, "").strip() if var else ""
        if value:
            return f"env {var}", value
    try:
        key = _call("read", "get_password", profile.name, key_env=profile.key_env)
    except KeyringUnavailable:
        key = None
        if profile.name not in _read_key_file():
            raise
    if key:
        return "keyring", key
    key = _read_key_file().get(profile.name)
    return (FILE_SOURCE, key) if key else (None, None)


def _call(action: str, method: str, *args: str, secret: str | None = None,
          key_env: str | None = None) -> Any:
    """Run one keyring operation; every failure becomes a KeyringUnavailable naming the variable.

    The backend's own message is kept (it often says why: a locked keyring, no D-Bus session),
    with the key removed in case a backend echoes it.
    """
    backend = _backend(key_env)
    try:
        return getattr(backend, method)(SERVICE, *args)
    except Exception as exc:  # keyring backends raise many types (D-Bus, OS errors)
        detail = _detail(exc)
        if secret:
            detail = detail.replace(secret, "…")
        raise KeyringUnavailable(f"the OS keyring could not {action} it ({detail})", key_env) from exc


def _detail(exc: Exception) -> str:
    """The backend's first line; a bare OS error (e.g. no D-Bus socket) means an unreachable service."""
    if isinstance(exc, OSError) and exc.filename is None and exc.strerror:
        return f"its service cannot be reached: {exc.strerror}"
    return f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"


def _backend(key_env: str | None) -> Any:
    import keyring
    from keyring.backends import chainer

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a backend named by PYTHON_KEYRING_BACKEND or keyringrc.cfg failed to load
        reason = f"the configured OS keyring cannot be used ({_detail(exc)})"
        raise KeyringUnavailable(reason, key_env) from exc
    candidates = backend.backends if isinstance(backend, chainer.ChainerBackend) else [backend]
    usable = [b for b in candidates if _usable(b)]
    if not usable:
        raise KeyringUnavailable(key_env=key_env)
    return usable[0]


def _usable(backend: Any) -> bool:
    from keyring.backends import fail, null

    if isinstance(backend, (fail.Keyring, null.Keyring)):
        return False
    return not any(cls.__name__ == "PlaintextKeyring" and cls.__module__.startswith("keyrings.alt")
                   for cls in type(backend).__mro__)


def _meta_path() -> Path:
    return state_dir() / _META_FILE


def _read_meta() -> dict[str, Any]:
    try:
        data = json.loads(_meta_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_meta(meta: dict[str, Any]) -> None:
    path = _meta_path()
    fd, tmp = tempfile.mkstemp(prefix=".key-meta-", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _read_key_file() -> dict[str, str]:
    try:
        data = json.loads(key_file_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str) and v}


def _write_key_file(entries: dict[str, str]) -> None:
    """Replace the key file atomically, created 0600 (never readable by others, not even briefly);
    an empty one is removed."""
    path = key_file_path()
    if not entries:
        path.unlink(missing_ok=True)
        return
    fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=path.parent)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(entries, handle, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _forget_file_key(profile_name: str) -> bool:
    entries = _read_key_file()
    if entries.pop(profile_name, None) is None:
        return False
    _write_key_file(entries)
    return True
