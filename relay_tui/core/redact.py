"""Known secrets, and their removal from any text the app shows or writes.

Whoever learns a secret registers it here (the client its key, its profile's header values, the
proxy's and the base URL's credentials); `redact` then takes every registered secret out of a
message, a history row, an export or a crash report, and with them what looks like credentials
whatever their source: `user:password@` in a URL, `Bearer …` / `Basic …` values. A registry is
needed because a secret reaches text by paths no one message template knows: a relay echoing a
header back, an exception from httpx quoting an illegal header value, a traceback.
"""

from __future__ import annotations

import base64
import re
import threading
from urllib.parse import unquote, urlsplit

MIN_SECRET = 4           # shorter values ("1", "on") cannot be told apart from ordinary words
_known: set[str] = set()
_keys: set[str] = set()  # API keys: masked as sk-…LAST4, the way `keys list` shows them
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@")
# a credential after "Bearer"/"Basic": 12+ token characters with a digit or +/= (not a word)
_AUTH_VALUE = re.compile(r"(?i)\b(bearer|basic)(\s+)(?=[A-Za-z._~-]*[0-9+/=])[A-Za-z0-9._~+/=-]{12,}")


def remember(*values: str | None) -> None:
    """Register secrets (None and short values are ignored)."""
    global _pattern
    new = {v for v in values if v and len(v) >= MIN_SECRET} - _known
    if not new:
        return
    with _lock:
        _known.update(new)
        ordered = sorted(_known, key=len, reverse=True)  # longest first: a key before its tail
        _pattern = re.compile("|".join(map(re.escape, ordered)))


def remember_key(key: str | None) -> None:
    """Register an API key."""
    if key and len(key) >= MIN_SECRET:
        _keys.add(key)
        remember(key)


def remember_url(url: str | None) -> None:
    """Register a URL's credentials (`user:password@`), raw and percent-decoded, and the Basic
    header value a proxy would be sent for them."""
    if not url:
        return
    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
    except ValueError:
        return
    user, password = parts.username, parts.password
    if user is None:
        return
    userinfo = parts.netloc.rpartition("@")[0]
    plain_user, plain_password = unquote(user), unquote(password or "")
    token = base64.b64encode(f"{plain_user}:{plain_password}".encode()).decode()
    remember(userinfo, password, plain_password, token,
             f"{plain_user}:{plain_password}" if password is not None else plain_user)


def remember_profile(profile, api_key: str | None) -> None:
    """Everything secret about a profile: its key, its header values, the credentials in its
    base URL and proxy URL."""
    remember_key(api_key)
    remember(*profile.headers.values())
    remember_url(profile.base_url)
    remember_url(profile.proxy)


def mask(secret: str) -> str:
    """How a secret is shown once redacted: a long API key keeps its last four characters (so a
    user can tell which key it was, as `keys list` shows it), anything else shows nothing."""
    return f"sk-…{secret[-4:]}" if secret in _keys and len(secret) >= 8 else "***"


def redact(text: str) -> str:
    """`text` with every registered secret masked and URL userinfo / auth header values removed."""
    if _pattern is not None:
        text = _pattern.sub(lambda m: mask(m.group()), text)
    if "@" in text:
        text = _USERINFO.sub(r"\1***@", text)
    if "earer" in text or "asic" in text or "EARER" in text or "ASIC" in text:
        text = _AUTH_VALUE.sub(lambda m: m.group(1) + m.group(2) + "***", text)
    return text


def without_userinfo(url: str) -> str:
    """A URL to show: the same address, `user:password@` replaced by `***@`."""
    return _USERINFO.sub(r"\1***@", url)
