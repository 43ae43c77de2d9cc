"""Where relay-tui keeps its files.

The OS conventions come from platformdirs; `RELAY_TUI_HOME`, when set, replaces them all with one
folder, so tests, portable installs and a second identity never touch the user's real files.
Every folder is created when first asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "relay-tui"
HOME_VAR = "RELAY_TUI_HOME"


def _home() -> Path | None:
    home = os.environ.get(HOME_VAR)
    return Path(home).expanduser() if home else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """config.toml lives here."""
    home = _home()
    if home is None:
        import platformdirs

        return _ensure(platformdirs.user_config_path(APP_NAME, appauthor=False))
    return _ensure(home)


def data_dir() -> Path:
    """history.db and exports live here."""
    home = _home()
    if home is None:
        import platformdirs

        return _ensure(platformdirs.user_data_path(APP_NAME, appauthor=False))
    return _ensure(home)


def state_dir() -> Path:
    """Small bookkeeping files (key ages) live here."""
    home = _home()
    if home is None:
        import platformdirs

        return _ensure(platformdirs.user_state_path(APP_NAME, appauthor=False))
    return _ensure(home)


def config_path() -> Path:
    return config_dir() / "config.toml"


def history_path() -> Path:
    return data_dir() / "history.db"


def exports_dir() -> Path:
    return _ensure(data_dir() / "exports")
