"""config.toml: relay profiles, UI settings and quota thresholds.

Read with tomllib (so a syntax error can name the line and column) and validated here, so the
rest of the app only ever sees well-typed `Profile`s. Edited with tomlkit, so the user's comments
and layout survive `profiles add`, `profiles use` and theme changes; every edit is validated
before it is written, and written atomically.

The format::

    active_profile = "work"          # the profile used when none is named
    theme = "textual-dark"

    [quota]
    alert_thresholds = [0.75, 0.9]   # fractions of the balance used that raise an alert
    refresh_seconds = 300

    [profiles.work]
    base_url = "https://relay.example.com/v1"   # http(s), including the /v1
    default_model = "gpt-4.1"
    quota_dialect = "auto"           # auto | openrouter | litellm | newapi-token | billing | simple | none
    proxy = "http://127.0.0.1:3128"  # else HTTPS_PROXY / HTTP_PROXY apply
    key_env = "WORK_RELAY_KEY"       # an environment variable holding this profile's key
    connect_timeout = 10             # seconds; also first_byte_timeout, idle_timeout (between two
                                     # pieces of text), request_timeout (a whole answer)
    max_retries = 3                  # 0 to 10

    [profiles.work.headers]
    "X-Title" = "relay-tui"

    [profiles.work.prices."gpt-4.1"]  # USD per million tokens, overriding list prices
    input_per_m = 2.0
    output_per_m = 8.0

    [telemetry]                      # OpenTelemetry export (needs `pip install 'relay-tui[otel]'`)
    enabled = true                   # default: on when OTEL_EXPORTER_OTLP_ENDPOINT is set
    endpoint = "http://collector.example.com:4318"   # OTLP/HTTP; the OTEL_EXPORTER_OTLP_* variables win
    service_name = "relay-tui"       # OTEL_SERVICE_NAME wins
    capture_content = false          # prompts and answers on spans (the GenAI content capture setting)
    resource_attributes = { "team" = "ml-platform" }   # merged under OTEL_RESOURCE_ATTRIBUTES

Keys never belong here: they live in the OS keyring (`relay-tui keys set NAME`) or in an
environment variable. A key-like setting (`api_key`, an Authorization header) is refused.
Other top-level values are kept as UI settings in `Settings.ui`.
"""

from __future__ import annotations

import os
import re
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from relay_tui.store.paths import config_path
from relay_tui.store.profile import Price, Profile

DIALECTS = ("auto", "openrouter", "litellm", "newapi-token", "billing", "simple", "none")
_SECRET_SETTINGS = {"api_key", "apikey", "key", "token", "api_token", "access_token", "secret",
                    "password"}
_SECRET_HEADERS = {"authorization", "proxy-authorization", "x-api-key", "api-key"}
_TIMEOUTS = ("connect_timeout", "first_byte_timeout", "idle_timeout", "request_timeout")
MAX_SECONDS = 86_400         # a timeout or refresh period past a day is a typo, not a plan
MAX_RETRIES = 10
MAX_PRICE = 10_000           # USD per million tokens
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)$")


class ConfigError(Exception):
    """A problem in config.toml; `str()` is "PATH:LINE:COLUMN: what is wrong" (never a value)."""

    def __init__(self, path: Path, message: str, line: int | None = None,
                 column: int | None = None):
        self.path, self.message, self.line, self.column = path, message, line, column
        where = f"{path}:{line}:{column}" if line else str(path)
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class TelemetrySettings:
    """The `[telemetry]` table; None where unset, so the OTEL_* environment decides."""

    enabled: bool | None = None
    endpoint: str | None = None
    service_name: str | None = None
    capture_content: bool | None = None
    resource_attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Settings:
    profiles: dict[str, Profile] = field(default_factory=dict)
    active_profile: str | None = None
    theme: str | None = None
    quota_alert_thresholds: tuple[float, ...] = (0.75, 0.90)
    quota_refresh_seconds: float = 300
    path: Path = field(default_factory=config_path)
    ui: dict[str, Any] = field(default_factory=dict)   # other top-level values (UI state)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)

    @property
    def effective_profile(self) -> str | None:
        """The profile used when none is named: the active one, else the only one there is."""
        if self.active_profile is None and len(self.profiles) == 1:
            return next(iter(self.profiles))
        return self.active_profile


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate config.toml; a missing file is an empty configuration."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings(path=path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc.__class__.__name__}") from None
    return _parse(text, path)


def save_profile(profile: Profile, *, make_active: bool = False, path: Path | None = None) -> None:
    """Add or update one profile, keeping everything else in the file as it was."""
    with _edit(path) as doc:
        import tomlkit

        if "profiles" not in doc:
            doc["profiles"] = tomlkit.table(is_super_table=True)
        profiles = doc["profiles"]
        if profile.name not in profiles:
            profiles[profile.name] = tomlkit.table()
        _write_profile(profiles[profile.name], profile)
        if make_active:
            doc["active_profile"] = profile.name


def remove_profile(name: str, *, path: Path | None = None) -> bool:
    """Remove a profile; False if there was none. The only profile left becomes the active one
    (so what is used is what `profiles list` marks); of several, none is active unless one was."""
    with _edit(path) as doc:
        profiles = doc.get("profiles")
        if profiles is None or name not in profiles:
            return False
        del profiles[name]
        if doc.get("active_profile") == name:
            del doc["active_profile"]
        if "active_profile" not in doc and len(profiles) == 1:
            doc["active_profile"] = next(iter(profiles))
    return True


def set_active_profile(name: str, *, path: Path | None = None) -> None:
    path = path or config_path()
    with _edit(path) as doc:
        if name not in doc.get("profiles", {}):
            raise ConfigError(path, f"no profile named {name!r}; add it with "
                                    f"`relay-tui profiles add {name} --base-url URL`")
        doc["active_profile"] = name


def set_ui_value(key: str, value: Any, *, path: Path | None = None) -> None:
    """Set a top-level setting (`theme`) or a dotted one (`quota.refresh_seconds`); None removes it."""
    *tables, leaf = key.split(".")
    with _edit(path) as doc:
        import tomlkit

        container = doc
        for name in tables:
            if name not in container:
                container[name] = tomlkit.table()
            container = container[name]
        if value is None:
            container.pop(leaf, None)
        else:
            container[leaf] = value


# -- reading ------------------------------------------------------------------------------------

def _parse(text: str, path: Path) -> Settings:
    try:
        data = tomllib.loads(text)
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise ConfigError(path, "TOML nested too deeply to read (arrays or tables hundreds of "
                                "levels deep)") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _POSITION.search(message)
        if match:
            line, column = int(match[1]), int(match[2])
            message = message[:match.start()].rstrip()
        else:  # "(at end of document)"
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
            message = message.split(" (at ")[0]
        raise ConfigError(path, f"TOML syntax error: {message}", line, column) from None
    return _Validator(text, path).settings(data)


class _Validator:
    """Turns the parsed TOML into Settings, pointing each complaint at its line and column."""

    def __init__(self, text: str, path: Path):
        self.text, self.path = text, path

    def fail(self, keys: tuple[str, ...], message: str) -> ConfigError:
        line, column = _locate(self.text, keys)
        return ConfigError(self.path, f"{'.'.join(keys)}: {message}", line, column)

    def settings(self, data: dict) -> Settings:
        self.refuse_secrets((), data)
        settings = Settings(path=self.path)
        profiles = self.table(("profiles",), data.get("profiles", {}))
        for name, table in profiles.items():
            settings.profiles[name] = self.profile(name, self.table(("profiles", name), table))
        for key, value in data.items():
            if key == "profiles":
                continue
            if key in ("active_profile", "theme"):
                setattr(settings, key, self.string((key,), value))
            elif key == "quota":
                self.quota(settings, self.table(("quota",), value))
            elif key == "telemetry":
                settings.telemetry = self.telemetry(self.table(("telemetry",), value))
            else:
                settings.ui[key] = value
        if settings.active_profile is not None and settings.active_profile not in settings.profiles:
            raise self.fail(("active_profile",), "names no profile in this file")
        return settings

    def quota(self, settings: Settings, table: dict) -> None:
        for key, value in table.items():
            keys = ("quota", key)
            if key == "alert_thresholds":
                if not isinstance(value, list) or not all(
                        _is_number(v) and 0 < v <= 1 for v in value):
                    raise self.fail(keys, "must be a list of fractions between 0 and 1, e.g. [0.75, 0.9]")
                settings.quota_alert_thresholds = tuple(sorted(float(v) for v in value))
            elif key == "refresh_seconds":
                settings.quota_refresh_seconds = self.positive(keys, value)
            else:
                raise self.fail(keys, "unknown setting (known: alert_thresholds, refresh_seconds)")

    def telemetry(self, table: dict) -> TelemetrySettings:
        values: dict[str, Any] = {}
        for key, value in table.items():
            keys = ("telemetry", key)
            if key in ("enabled", "capture_content"):
                if not isinstance(value, bool):
                    raise self.fail(keys, "must be true or false")
                values[key] = value
            elif key == "endpoint":
                url = self.url(keys, value, ("http", "https"))
                if urlsplit(url).username or urlsplit(url).password:
                    raise self.fail(keys, "must not hold a user or password; put the collector's "
                                          "credentials in OTEL_EXPORTER_OTLP_HEADERS")
                values[key] = url.rstrip("/")
            elif key == "service_name":
                values[key] = self.string(keys, value)
            elif key == "resource_attributes":
                table_ = self.table(keys, value)
                for name, item in table_.items():
                    self.string(keys + (name,), item)
                values[key] = dict(table_)
            elif key == "headers":
                raise self.fail(keys, "collector headers often hold a token, which does not belong "
                                      "in config.toml: set OTEL_EXPORTER_OTLP_HEADERS instead")
            else:
                raise self.fail(keys, "unknown setting (known: capture_content, enabled, endpoint, "
                                      "resource_attributes, service_name)")
        return TelemetrySettings(**values)

    def profile(self, name: str, table: dict) -> Profile:
        if not name.strip():
            raise self.fail(("profiles", name), "a profile needs a name")
        if "base_url" not in table:
            raise self.fail(("profiles", name), "base_url is missing")
        known = {f.name for f in fields(Profile)} - {"name"}
        values: dict[str, Any] = {}
        for key, value in table.items():
            keys = ("profiles", name, key)
            if key not in known:
                raise self.fail(keys, f"unknown setting (known: {', '.join(sorted(known))})")
            if key == "base_url":
                values[key] = self.url(keys, value, ("http", "https")).rstrip("/")
            elif key == "proxy":
                values[key] = self.url(keys, value, ("http", "https", "socks5", "socks5h"))
            elif key == "default_model":
                values[key] = self.string(keys, value)
            elif key == "quota_dialect":
                if value not in DIALECTS:
                    raise self.fail(keys, f"unknown quota dialect (use one of: {', '.join(DIALECTS)})")
                values[key] = value
            elif key == "key_env":
                if not isinstance(value, str) or not is_env_name(value):
                    raise self.fail(keys, "must name an environment variable (letters, digits, _), "
                                          "not hold the key itself")
                values[key] = value
            elif key in _TIMEOUTS:
                values[key] = self.positive(keys, value)
            elif key == "max_retries":
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_RETRIES:
                    raise self.fail(keys, f"must be a whole number from 0 to {MAX_RETRIES}")
                values[key] = value
            elif key == "headers":
                values[key] = self.headers(keys, self.table(keys, value))
            elif key == "prices":
                values[key] = self.prices(keys, self.table(keys, value))
        return Profile(name=name, **values)

    def headers(self, keys: tuple[str, ...], table: dict) -> dict[str, str]:
        for header, value in table.items():
            if header.lower() in _SECRET_HEADERS:
                raise self.fail(keys + (header,), f"keys do not belong in config.toml; remove this "
                                                  f"line and run `relay-tui keys set {keys[1]}`")
            self.string(keys + (header,), value)
            problem = header_problem(header, value)
            if problem:  # never repeated: the value may be a secret
                raise self.fail(keys + (header,), problem)
        return dict(table)

    def prices(self, keys: tuple[str, ...], table: dict) -> dict[str, Price]:
        prices = {}
        for model, entry in table.items():
            entry = self.table(keys + (model,), entry)
            amounts = {}
            for name in ("input_per_m", "output_per_m"):
                value = entry.get(name)
                if not _is_number(value) or not 0 <= value <= MAX_PRICE:
                    raise self.fail(keys + (model, name), f"must be a number of USD per million "
                                                          f"tokens, from 0 to {MAX_PRICE:,}")
                amounts[name] = float(value)
            extra = set(entry) - set(amounts)
            if extra:
                raise self.fail(keys + (model, sorted(extra)[0]),
                                "unknown setting (known: input_per_m, output_per_m)")
            prices[model] = Price(**amounts)
        return prices

    def refuse_secrets(self, keys: tuple[str, ...], table: dict) -> None:
        """A key written into the file is refused wherever it is, and its value never repeated."""
        for key, value in table.items():
            if key.lower() in _SECRET_SETTINGS:
                profile = keys[1] if keys[:1] == ("profiles",) and len(keys) > 1 else "PROFILE"
                raise self.fail(keys + (key,), f"keys do not belong in config.toml; remove this "
                                               f"line and run `relay-tui keys set {profile}`")
            if isinstance(value, dict) and key != "prices":   # model names, not settings
                self.refuse_secrets(keys + (key,), value)

    def table(self, keys: tuple[str, ...], value: Any) -> dict:
        if not isinstance(value, dict):
            raise self.fail(keys, "must be a table")
        return value

    def string(self, keys: tuple[str, ...], value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(keys, "must be a non-empty string")
        return value

    def positive(self, keys: tuple[str, ...], value: Any) -> float:
        """Seconds: finite, above 0, at most a day (nan, inf and 1e300 are refused)."""
        if not _is_number(value) or not 0 < value <= MAX_SECONDS:
            raise self.fail(keys, f"must be a number of seconds above 0 and at most {MAX_SECONDS:,} "
                                  f"(a day)")
        return float(value)

    def url(self, keys: tuple[str, ...], value: Any, schemes: tuple[str, ...]) -> str:
        if not url_ok(self.string(keys, value), schemes):
            raise self.fail(keys, f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}")
        return value.strip()


def url_ok(value: str, schemes: tuple[str, ...]) -> bool:
    """The rule for every URL a user gives (config.toml, --base-url, --proxy): one of `schemes`,
    a host, a numeric port if any, and no space or control character (httpx refuses those at
    the first request, and its error quotes the URL, password and all)."""
    value = value.strip()
    if not value.isprintable() or any(c.isspace() for c in value):
        return False
    parts = urlsplit(value)
    try:
        return parts.scheme in schemes and bool(parts.hostname) and bool(parts.port or 1)
    except ValueError:  # a port that is not a number
        return False


def is_env_name(value: str) -> bool:
    """A valid environment variable name (what `key_env` must hold, never the key itself)."""
    return bool(_ENV_NAME.fullmatch(value))


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")


def header_problem(name: str, value: str) -> str | None:
    """Why an HTTP header cannot carry this name or value (RFC 9110 token / visible ASCII), or
    None. Checked when the profile is read: sent, httpx would fail on it, and its error quotes
    the value; the fault is the profile's, not the relay's."""
    if not _TOKEN.fullmatch(name):
        return "is not a valid HTTP header name (letters, digits and !#$%&'*+.^_`|~- only)"
    if not _FIELD_VALUE.fullmatch(value):
        return ("has a character an HTTP header cannot carry (a line break, a control or a non-ASCII "
                "character)")
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _locate(text: str, keys: tuple[str, ...]) -> tuple[int, int]:
    """The line and column that best match a dotted key: its value, else its nearest table.

    tomllib reports no positions for values, so each line is parsed on its own: table headers
    set the current table, `key = value` lines are matched by their full key path.
    """
    best, best_len = (1, 1), 0
    table: tuple[str, ...] = ()
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.lstrip()
        indent = len(raw) - len(stripped)
        if not stripped or stripped.startswith("#"):
            continue
        parsed = _parse_line(stripped)
        if parsed is None:
            continue
        if stripped.startswith("["):
            table = _header_path(parsed)
            candidates = [table]
        else:
            candidates = [table + p for p in _key_paths(parsed)]
        for path in candidates:
            if path == keys[:len(path)] and len(path) > best_len:
                column = indent + 1
                if path == keys and not stripped.startswith("["):
                    after = raw.index("=") + 1 if "=" in raw else indent
                    column = after + len(raw[after:]) - len(raw[after:].lstrip()) + 1
                best, best_len = (number, column), len(path)
    return best


def _parse_line(line: str) -> dict | None:
    try:
        return tomllib.loads(line)
    except tomllib.TOMLDecodeError:
        return None


def _header_path(parsed: dict) -> tuple[str, ...]:
    path: list[str] = []
    node: Any = parsed
    while isinstance(node, dict) and len(node) == 1:
        key, node = next(iter(node.items()))
        path.append(key)
    return tuple(path)


def _key_paths(parsed: dict, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in parsed.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from _key_paths(value, prefix + (key,))


# -- writing ------------------------------------------------------------------------------------

@contextmanager
def _edit(path: Path | None) -> Iterator[Any]:
    """Yield the document for editing; validate the result, then replace the file atomically."""
    import tomlkit

    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    _parse(text, path)   # refuse to edit a broken file: its error is the more useful one
    doc = tomlkit.parse(text)
    yield doc
    new_text = tomlkit.dumps(doc)
    _parse(new_text, path)
    _write_atomically(path, new_text)


def _write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so the old file stays whole if this fails; a
    full or read-only disk is a ConfigError (one line), not a traceback."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".toml", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise ConfigError(path, f"cannot save the change: {exc.strerror or exc} — check that the disk "
                                f"has room and the folder is writable (nothing was changed)") from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def _write_profile(table: Any, profile: Profile) -> None:
    """Write the profile's fields into its table: defaults are left out unless already written."""
    import tomlkit

    defaults = Profile(name=profile.name, base_url=profile.base_url)
    for f in fields(Profile):
        if f.name == "name":
            continue
        value = getattr(profile, f.name)
        if f.name == "prices":
            value = {model: {"input_per_m": p.input_per_m, "output_per_m": p.output_per_m}
                     for model, p in value.items()}
        if value is None or value == {}:
            table.pop(f.name, None)
        elif isinstance(value, dict):
            if f.name not in table:
                table[f.name] = tomlkit.table(is_super_table=f.name == "prices")
            _sync(table[f.name], value)
        elif f.name == "base_url" or value != getattr(defaults, f.name) or f.name in table:
            table[f.name] = value


def _sync(table: Any, values: dict) -> None:
    """Make a tomlkit table hold exactly `values`, keeping the entries (and comments) that stay."""
    import tomlkit

    for key in [k for k in table if k not in values]:
        del table[key]
    for key, value in values.items():
        if isinstance(value, dict):
            if key not in table:
                table[key] = tomlkit.table()
            _sync(table[key], value)
        else:
            table[key] = value
