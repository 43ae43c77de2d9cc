"""Balance, used and remaining, read from the relay itself in whichever dialect it speaks.

Relays expose quota in five incompatible ways (reference/relay-protocol.md section 1); with
dialect "auto" they are probed in the reference's order and the one that answered is remembered
per profile, so a refresh costs one request. A dialect only counts as detected when its reply has
that dialect's shape, so a catch-all JSON route cannot pass for it. HTML, 404 and 405 mean "not
here"; a 401 stops the probing (a bad key fails every probe the same way).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from relay_tui.core.errors import BadResponse, RelayError, ServerError, error_fields, relay_text
from relay_tui.core.sanitize import neutralise_id

if TYPE_CHECKING:
    from relay_tui.core.client import RelayClient
    from relay_tui.store.profile import Profile

DIALECTS = ("openrouter", "litellm", "newapi-token", "billing", "simple")
UNLIMITED = 1e8             # one-api/new-api report every limit as 100000000 for unlimited keys
QUOTA_PER_USD = 500_000     # one-api/new-api default QuotaPerUnit: 500000 raw units = $1


@dataclass(frozen=True)
class QuotaReading:
    """One reading. Amounts are in `unit`; None where the relay does not say (or is unlimited)."""

    granted: float | None
    used: float | None
    remaining: float | None
    unlimited: bool
    unit: str
    read_at: float
    dialect: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def used_fraction(self) -> float | None:
        """used / granted, for the 75% / 90% alerts; None when unlimited or unknown."""
        if self.unlimited or not self.granted or self.used is None:
            return None
        return self.used / self.granted


class QuotaUnsupported(RelayError):
    """The relay answers none of the quota dialects (or the chosen one)."""

    kind = "quota_unsupported"


class _NotHere(Exception):
    """This dialect's endpoint is absent, or its reply is not this dialect's shape. `tell`: the
    reason says more than "absent" and belongs in the final "does not report quota" line."""

    def __init__(self, reason: str, *, tell: bool = False):
        super().__init__(reason)
        self.tell = tell


_answered: dict[tuple[str, str], str] = {}   # (profile name, base URL) -> dialect that answered


async def read_quota(client: RelayClient, dialect: str = "auto") -> QuotaReading:
    """Read the quota through `client` (same key and proxy as chat).

    Raises QuotaUnsupported when no dialect answers, AuthError on a 401, or the RelayError the
    relay's own error reply maps to.
    """
    relay = _Relay(client)
    if dialect == "none":
        raise QuotaUnsupported(f"quota reading is turned off for profile {relay.profile.name} "
                               "(quota_dialect = none)")
    if dialect != "auto":
        if dialect not in DIALECTS:
            raise QuotaUnsupported(f"unknown quota dialect {dialect!r} (known: auto, "
                                   f"{', '.join(DIALECTS)}, none)")
        try:
            return await _READERS[dialect](relay)
        except _NotHere as e:
            raise QuotaUnsupported(f"this relay does not report quota as {dialect} ({e}) — "
                                   "try quota_dialect = auto") from None

    cache_key = (relay.profile.name, relay.profile.base_url)
    known = _answered.get(cache_key)
    if known is not None:
        try:
            return await _READERS[known](relay)
        except _NotHere:
            del _answered[cache_key]   # the relay changed; probe again
    failure: RelayError | None = None
    reasons = []
    for name in DIALECTS:
        try:
            reading = await _READERS[name](relay)
        except _NotHere as e:
            if e.tell:
                reasons.append(str(e))
            continue
        except RelayError as e:
            # No status: the network failed, and would for every probe. 401: a bad (or
            # exhausted) key, which fails every probe alike.
            if e.status is None or e.status == 401:
                raise
            failure = failure or e     # the endpoint exists but failed: try the rest, report it
            continue
        _answered[cache_key] = name
        return reading
    if failure is not None:
        raise failure
    tried = ", ".join(relay.shown(*_main_path(name, relay.profile)) for name in DIALECTS)
    why = "".join(f"; {reason}" for reason in reasons)
    raise QuotaUnsupported(f"this relay does not report quota (tried: {tried}){why}")


class _Relay:
    """The client plus the reply checks every dialect shares."""

    def __init__(self, client: RelayClient):
        self.client = client
        self.profile: Profile = client.profile

    def shown(self, path: str, root: bool) -> str:
        """The URL path a user would recognise, e.g. /v1/quota."""
        base = self.profile.root_url if root else self.profile.base_url
        return urlsplit(base.rstrip("/")).path + path.split("?")[0]

    async def get(self, path: str, *, root: bool) -> dict[str, Any]:
        reply = await self.client.get_json(path, root=root)
        where = f"GET {self.shown(path, root)}"
        request_id = (reply.headers.get("x-oneapi-request-id") or "")[:200] or None
        if reply.status == 401:
            raise self.client.classify_reply(401, reply.body, request_id, reply.headers)
        if reply.is_html and reply.status >= 500:  # a gateway in front of the relay failed
            raise ServerError(f"{where}: the relay returned an HTML error page (HTTP {reply.status}): "
                              f"the gateway in front of it failed — try again later",
                              status=reply.status, request_id=request_id)
        if reply.is_html or reply.status in (404, 405):
            raise _NotHere(f"{where}: HTTP {reply.status}{' (HTML page)' if reply.is_html else ''}")
        if 300 <= reply.status < 400:  # not followed: a key is not sent on to another address
            to = relay_text(reply.headers.get("location", "elsewhere"))
            raise _NotHere(f"{where}: HTTP {reply.status}, a redirect to {to}", tell=True)
        if reply.status >= 400 or error_fields(reply.body) is not None:
            # one-api/new-api send errors with HTTP 200; an error body is a failure at any status.
            # The client's classifier also masks the key if the relay echoes it.
            raise self.client.classify_reply(reply.status, reply.body, request_id, reply.headers)
        if not isinstance(reply.body, dict):
            raise _NotHere(f"{where}: not a JSON object")
        return reply.body


MAX_AMOUNT = 1e15           # no balance, used figure or raw unit count is this large: a broken reply


# Amounts that may fall below zero: what is left of an overdrawn balance. A negative used
# amount, grant or budget is no figure of any account.
_MAY_BE_NEGATIVE = frozenset({"remaining", "limit_remaining", "total_available"})


class _Impossible(ValueError):
    """An amount that is a number but not a possible one; `str()` says why."""


def _num(value: Any, signed: bool = True) -> float | None:
    """A number from JSON (some relays send amounts as strings); None if it is not one.
    NaN, infinities, amounts past MAX_AMOUNT ("1e400", 10**400) and, unless `signed`, negative
    ones raise _Impossible: shown, they would read "granted nan USD" or a 309-digit balance."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    except OverflowError:  # an int too big for a float
        raise _Impossible(f"over {MAX_AMOUNT:.0e}") from None
    if not math.isfinite(number):
        raise _Impossible("not a finite number")
    if abs(number) >= MAX_AMOUNT:
        raise _Impossible(f"over {MAX_AMOUNT:.0e}")
    if number < 0 and not signed:
        raise _Impossible("negative")
    return number


def _need(mapping: Any, *keys: str, where: str) -> list[float | None]:
    """The keys' numeric values; _NotHere if the mapping lacks a key (not this dialect's shape)."""
    if not isinstance(mapping, dict) or any(k not in mapping for k in keys):
        raise _NotHere(f"{where}: unexpected reply")
    return [_checked(mapping, k, where) for k in keys]


def _checked(mapping: dict[str, Any], key: str, where: str) -> float | None:
    """`_num` of one field, an impossible amount named as the relay's fault (one line, exit 1)."""
    try:
        return _num(mapping.get(key), signed=key in _MAY_BE_NEGATIVE)
    except _Impossible as why:
        raise BadResponse(f"the relay's quota reply ({where}) has an impossible {key} ({why}): the "
                          f"relay is misbehaving") from None


def _extras(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: mapping[k] for k in keys if mapping.get(k) is not None}


def _main_path(dialect: str, profile: Profile) -> tuple[str, bool]:
    """Where `dialect` lives: (path, relative to root URL?)."""
    if dialect == "openrouter":
        # OpenRouter's base is https://openrouter.ai/api/v1, so its root already ends in /api.
        return ("/v1/key" if profile.root_url.endswith("/api") else "/api/v1/key"), True
    return {"litellm": ("/key/info", True), "newapi-token": ("/api/usage/token", True),
            "billing": ("/dashboard/billing/subscription", False),
            "simple": ("/quota", False)}[dialect]


async def _openrouter(relay: _Relay) -> QuotaReading:
    path, root = _main_path("openrouter", relay.profile)
    body = await relay.get(path, root=root)
    data = body.get("data")
    usage, limit = _need(data, "usage", "limit", where=relay.shown(path, root))
    if usage is None or (data["limit"] is not None and limit is None):
        raise _NotHere(f"{relay.shown(path, root)}: unexpected reply")
    unlimited = limit is None          # `limit: null` = no cap on this key
    remaining = None if unlimited else _checked(data, "limit_remaining", relay.shown(path, root))
    if remaining is None and not unlimited:
        remaining = limit - usage
    return QuotaReading(limit, usage, remaining, unlimited, "USD", time.time(), "openrouter",
                        _extras(data, "label", "limit_reset", "expires_at", "is_free_tier",
                                "usage_daily", "usage_weekly", "usage_monthly"))


async def _litellm(relay: _Relay) -> QuotaReading:
    try:
        body = await relay.get("/key/info", root=True)
    except ServerError as e:
        if "database not connected" in e.message.lower():   # budgets live in LiteLLM's database
            raise _NotHere("LiteLLM's /key/info needs a database this proxy does not have",
                           tell=True) from None
        raise
    info = body.get("info")
    (spend,) = _need(info, "spend", where=relay.shown("/key/info", True))
    if spend is None:
        raise _NotHere(f"{relay.shown('/key/info', True)}: unexpected reply")
    budget = _checked(info, "max_budget", relay.shown("/key/info", True))   # null = no cap
    unlimited = budget is None
    return QuotaReading(budget, spend, None if unlimited else budget - spend, unlimited, "USD",
                        time.time(), "litellm",
                        _extras(info, "key_alias", "budget_duration", "budget_reset_at", "expires",
                                "team_id"))


async def _newapi_token(relay: _Relay) -> QuotaReading:
    body = await relay.get("/api/usage/token", root=True)
    data = body.get("data")
    granted, used, available = _need(data, "total_granted", "total_used", "total_available",
                                     where=relay.shown("/api/usage/token", True))
    if used is None:
        raise _NotHere(f"{relay.shown('/api/usage/token', True)}: unexpected reply")
    unlimited = data.get("unlimited_quota") is True  # not "false", which is truthy
    detail = _extras(data, "name", "expires_at", "model_limits_enabled")
    detail.update(raw_granted=data["total_granted"], raw_used=data["total_used"],
                  raw_available=data["total_available"],
                  conversion=f"{QUOTA_PER_USD} quota units = $1 (new-api default)")

    def usd(raw: float | None) -> float | None:
        return None if raw is None or unlimited else raw / QUOTA_PER_USD

    return QuotaReading(usd(granted), used / QUOTA_PER_USD, usd(available), unlimited, "USD",
                        time.time(), "newapi-token", detail)


async def _billing(relay: _Relay) -> QuotaReading:
    sub_path = "/dashboard/billing/subscription"
    sub = await relay.get(sub_path, root=False)
    (hard,) = _need(sub, "hard_limit_usd", where=relay.shown(sub_path, False))
    today = dt.date.today()
    use_path = (f"/dashboard/billing/usage?start_date={today.replace(day=1).isoformat()}"
                f"&end_date={today.isoformat()}")
    usage = await relay.get(use_path, root=False)
    (cents,) = _need(usage, "total_usage", where=relay.shown(use_path, False))
    if hard is None or cents is None:
        raise _NotHere(f"{relay.shown(sub_path, False)}: unexpected reply")
    used = cents / 100                 # total_usage is in cents
    limits = [_checked(sub, k, relay.shown(sub_path, False))
              for k in ("hard_limit_usd", "soft_limit_usd", "system_hard_limit_usd")]
    unlimited = any(v is not None and v >= UNLIMITED for v in limits)
    granted = None if unlimited else hard   # hard_limit_usd = total granted (one-api >= 0.4.10)
    return QuotaReading(granted, used, None if unlimited else hard - used, unlimited, "USD",
                        time.time(), "billing",
                        _extras(sub, "hard_limit_usd", "soft_limit_usd", "access_until"))


async def _simple(relay: _Relay) -> QuotaReading:
    body = await relay.get("/quota", root=False)
    used, remaining = _need(body, "used", "remaining", where=relay.shown("/quota", False))
    if used is None or (remaining is None and body["remaining"] is not None):
        raise _NotHere(f"{relay.shown('/quota', False)}: unexpected reply")
    unlimited = remaining is None or remaining >= UNLIMITED    # null = no cap
    unit = _unit(body.get("unit") or body.get("currency"))
    return QuotaReading(None if unlimited else used + remaining, used,
                        None if unlimited else remaining, unlimited, unit, time.time(), "simple",
                        _extras(body, "limit", "reset_at", "expires_at"))


def _unit(value: Any) -> str:
    """The relay's name for its unit, as a short one-line name (it is shown and stored)."""
    if not isinstance(value, str) or not value.strip():
        return "USD"
    return neutralise_id(value.strip()[:MAX_UNIT_CHARS])


MAX_UNIT_CHARS = 24

_READERS = {"openrouter": _openrouter, "litellm": _litellm, "newapi-token": _newapi_token,
            "billing": _billing, "simple": _simple}
