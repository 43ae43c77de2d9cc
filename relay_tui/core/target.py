"""Decide which relay a command or the TUI talks to, with which key.

One place for the rules the CLI and the TUI share: `--demo` starts the embedded relay, `--base-url`
without a profile takes its key from RELAY_TUI_API_KEY, otherwise the named or active profile and
its key from the environment or the keyring.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from relay_tui.core import redact
from relay_tui.store import keys
from relay_tui.store.config import Settings, load_settings
from relay_tui.store.profile import Profile

if TYPE_CHECKING:
    from relay_tui.demo import DemoRelay

DEMO_PROFILE = "demo"
ADHOC_PROFILE = "base-url"


class SetupError(Exception):
    """Nothing to talk to yet, or no key: a usage problem (exit code 2), one line."""


@dataclass
class Target:
    profile: Profile
    api_key: str | None
    key_source: str | None
    demo: DemoRelay | None = None
    warnings: list[str] = field(default_factory=list)

    def close(self) -> None:
        if self.demo is not None:
            self.demo.stop()
            self.demo = None


def start_demo(time_scale: float = 1.0) -> Target:
    """Start the embedded demo relay on a free loopback port and target it with the demo key;
    its quota books persist in the state folder."""
    from relay_tui.demo import DEMO_KEY, DemoRelay

    from relay_tui.store.paths import state_dir

    # its balance persists per RELAY_TUI_HOME: the demo's quota counts down as it is used
    relay = DemoRelay(time_scale=time_scale, books_path=state_dir() / "demo-books.json")
    relay.start()
    profile = Profile(name=DEMO_PROFILE, base_url=relay.base_url, default_model="auto")
    return Target(profile=profile, api_key=DEMO_KEY, key_source="demo key", demo=relay)


def resolve_target(*, profile_name: str | None = None, base_url: str | None = None,
                   demo: bool = False, settings: Settings | None = None,
                   need_key: bool = True) -> Target:
    """Build the Target for the global options; raise SetupError with the fix when impossible."""
    if demo:
        return start_demo()
    if base_url and not profile_name:
        profile = Profile(name=ADHOC_PROFILE, base_url=base_url.rstrip("/"))
        key = os.environ.get(keys.ENV_VAR) or None
        if key is None and need_key:
            raise SetupError(f"--base-url needs a key: set {keys.ENV_VAR} in the environment")
        return _checked(Target(profile, key, f"env {keys.ENV_VAR}" if key else None))
    settings = settings if settings is not None else load_settings()
    name = profile_name or settings.effective_profile
    if name is None and settings.profiles:
        raise SetupError(f"no active profile: choose one with `relay-tui profiles use NAME` "
                         f"(profiles: {', '.join(sorted(settings.profiles))}) or name it with --profile")
    if name is None:
        raise SetupError(
            "no profile configured: try the demo relay with `relay-tui --demo ...`, or add one with "
            "`relay-tui profiles add NAME --base-url URL` and `relay-tui keys set NAME`")
    profile = settings.profiles.get(name)
    if profile is None:
        known = ", ".join(sorted(settings.profiles)) or "none"
        raise SetupError(f"no profile named {name!r} (profiles: {known}); see `relay-tui profiles list`")
    if base_url:
        profile = replace(profile, base_url=base_url.rstrip("/"))
    try:
        key = keys.get_key(profile)
    except keys.KeyringUnavailable:
        if need_key:
            raise
        key = None
    if key is None and need_key:
        env = profile.key_env or keys.ENV_VAR
        raise SetupError(f"no key for profile {profile.name!r}: run `relay-tui keys set {profile.name}` "
                         f"or set {env}")
    return _checked(Target(profile, key, keys.key_source(profile)))


def _checked(target: Target) -> Target:
    redact.remember_profile(target.profile, target.api_key)  # before anything can quote them
    warning = plain_http_warning(target.profile.base_url, target.profile.proxy)
    if warning and target.api_key:
        target.warnings.append(warning)
    return target


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address (127.0.0.0/8, ::1): traffic that never leaves the machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def plain_http_warning(base_url: str, proxy: str | None = None) -> str | None:
    """A warning when a key would cross a network unencrypted: http:// to a non-loopback host,
    or an http:// relay (loopback included) reached through a proxy on another host, which gets
    the request, key and all, in clear text (an https:// relay is tunnelled through it)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme != "http":
        return None
    if not is_loopback(host):
        return (f"warning: {parts.scheme}://{host} is not encrypted: the API key will be sent in clear "
                "text; use https:// if the relay supports it")
    via = urlsplit(proxy) if proxy else None
    if via is not None and via.scheme in ("http", "https") and not is_loopback(via.hostname or ""):
        return (f"warning: requests to {parts.scheme}://{host} go through the proxy {via.hostname} "
                "unencrypted: the proxy sees the API key in clear text; use an https:// relay URL, "
                "or reach the relay without that proxy")
    return None
