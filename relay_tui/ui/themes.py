"""Themes: Textual's built-in ones plus TOML files of ours and the user's.

A theme file's keys are the fields of `textual.theme.Theme` plus a `[variables]` table (the
format is documented in themes/relay-night.toml). Files are read from the package's themes/
folder, then `<config dir>/themes/`. A broken file is skipped with a one-line problem; the app
shows every problem in one notification (`summary`); it never stops the app. When the theme the
config names cannot be used, the default is used for that run only: the config keeps the name,
so fixing the file brings the theme back.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from textual.app import App
from textual.color import Color, ColorParseError
from textual.theme import Theme

from relay_tui.core.sanitize import neutralise_id
from relay_tui.store.paths import config_dir

DEFAULT_THEME = "relay-night"
PACKAGE_THEMES = Path(__file__).resolve().parent.parent / "themes"
_COLOURS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground",
            "background", "surface", "panel", "boost")
_NUMBERS = ("luminosity_spread", "text_alpha")
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_VARIABLE_VALUE = re.compile(r"[^;{}\x00-\x1f\x7f-\x9f]*")  # printable, cannot end a declaration


class ThemeFileError(ValueError):
    """A theme file that cannot be used; `str()` names the file and what is wrong."""

    def __init__(self, message: str):
        super().__init__(message)
        path, _, self.reason = message.partition(": ")
        self.path = Path(path)


def theme_dirs() -> list[Path]:
    return [PACKAGE_THEMES, config_dir() / "themes"]


def load_theme_file(path: Path) -> Theme:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeFileError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"{path}: {exc}") from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise ThemeFileError(f"{path}: TOML nested too deeply to read") from None
    known = {"name", "dark", "variables", *_COLOURS, *_NUMBERS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ThemeFileError(f"{path}: unknown key {unknown[0]!r} (expected one of: {', '.join(sorted(known))})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError(f"{path}: 'name' must be a non-empty string")
    if neutralise_id(name) != name:  # shown in the theme picker and saved in config.toml
        raise ThemeFileError(f"{path}: 'name' must be plain text (no control, invisible or "
                             f"direction-changing characters)")
    if not isinstance(data.get("dark"), bool):
        raise ThemeFileError(f"{path}: 'dark' must be true or false")
    if "primary" not in data:
        raise ThemeFileError(f"{path}: 'primary' colour is required")
    for key in _COLOURS:
        if key in data:
            _check_colour(path, key, data[key])
    for key in _NUMBERS:  # fractions: nan, inf or 1e308 crashed the colour system's maths
        value = data.get(key, 0.5)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ThemeFileError(f"{path}: {key!r} must be a number from 0 to 1")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeFileError(f"{path}: [variables] must map names to strings")
    for key, value in variables.items():  # each goes into the stylesheet as it is
        if not _VARIABLE_NAME.fullmatch(key) or not _VARIABLE_VALUE.fullmatch(value):
            raise ThemeFileError(f"{path}: [variables] {neutralise_id(key)!r} must be a CSS name "
                                 f"(letters, digits, - and _) holding one CSS value (no ; {{ }} or "
                                 f"line breaks)")
    fields = {k: v for k, v in data.items() if k != "variables"}
    return Theme(**fields, variables=dict(variables))


def _check_colour(path: Path, key: str, value: object) -> None:
    if not isinstance(value, str):
        raise ThemeFileError(f"{path}: {key!r} must be a colour string")
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeFileError(f"{path}: {key} = {value!r} is not a colour") from None


def register_all(app: App) -> list[ThemeFileError]:
    """Register every readable theme file with `app`; return the problem of each that failed."""
    problems = []
    for folder in theme_dirs():
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                app.register_theme(load_theme_file(path))
            except ThemeFileError as exc:
                problems.append(exc)
    return problems


def summary(problems: list[ThemeFileError], wanted: str | None, using: str) -> str | None:
    """One notification's text for every theme problem at start, or None when there is none."""
    lines = []
    if problems:
        folders = sorted({str(p.path.parent) for p in problems})
        lines.append(f"{len(problems)} theme file{'s' if len(problems) > 1 else ''} could not be "
                     f"used (in {', '.join(folders)}):")
        lines += [f"• {p.path.name}: {p.reason}" for p in problems]
    if wanted and wanted != using:
        lines.append(f"Theme {wanted!r} is not available: using {using} for this run "
                     f"(config.toml keeps {wanted!r}).")
    return "\n".join(lines) or None


def initial_theme(app: App, wanted: str | None) -> str:
    """The remembered theme if it still exists, else ours."""
    if wanted and wanted in app.available_themes:
        return wanted
    return DEFAULT_THEME if DEFAULT_THEME in app.available_themes else "textual-dark"
