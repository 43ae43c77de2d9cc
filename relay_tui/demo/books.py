"""The demo account's books, and the quota dialects that read them.

One account (granted USD, used USD) is charged by every completed or partly streamed request and
read through each real relay dialect (relay-protocol.md section 1), each in its own units, so a
client's quota detection and unit handling can be tested against one consistent figure.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

QUOTA_PER_USD = 500_000     # one-api / new-api quota units per USD
UNLIMITED_USD = 100_000_000  # what one-api / new-api report as the limit of an unlimited token
SAVE_EVERY_S = 0.5           # a persisted balance is written at most this often while charging

# dialect -> paths it serves (both billing prefixes are registered by one-api and new-api)
DIALECTS: dict[str, tuple[str, ...]] = {
    "openrouter": ("/api/v1/key", "/api/v1/auth/key", "/api/v1/credits"),
    "litellm": ("/key/info",),
    "newapi-token": ("/api/usage/token",),
    "billing": ("/v1/dashboard/billing/subscription", "/v1/dashboard/billing/usage",
                "/dashboard/billing/subscription", "/dashboard/billing/usage"),
    "simple": ("/v1/quota",),
}
PATH_DIALECT = {path: name for name, paths in DIALECTS.items() for path in paths}


@dataclass
class Books:
    granted_usd: float
    used_usd: float = 0.0
    requests: int = 0
    per_model: dict[str, dict[str, float]] = field(default_factory=dict)
    # Seconds from each streamed request's arrival to its first token's write, in order: the
    # delay the relay really served (its timers can run late), which a client's TTFT is checked against.
    first_tokens: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    path: Path | None = None       # where the balance persists (the app's demo relay), if anywhere
    saved_at: float = 0.0

    @classmethod
    def kept_in(cls, path: Path, granted_usd: float) -> Books:
        """The account whose used balance and request count persist in `path` (JSON), so the
        demo's quota counts down across runs as the README says; unreadable means fresh."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            used, requests = float(data["used_usd"]), int(data["requests"])
        except (OSError, ValueError, KeyError, TypeError):
            used, requests = 0.0, 0
        return cls(granted_usd, used_usd=used, requests=requests, path=path)

    def charge(self, model: str, prompt_tokens: int, completion_tokens: int, cost: float) -> None:
        with self.lock:
            self.used_usd += cost
            self.requests += 1
            row = self.per_model.setdefault(
                model, {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost_usd": 0.0})
            row["requests"] += 1
            row["prompt_tokens"] += prompt_tokens
            row["completion_tokens"] += completion_tokens
            row["cost_usd"] += cost
        if self.path is not None and time.monotonic() - self.saved_at >= SAVE_EVERY_S:
            self.save()

    def save(self) -> None:
        """Write the balance (atomically); at most every SAVE_EVERY_S while charging, and when
        the relay stops. Two demo relays at once share the file: the last to write wins."""
        if self.path is None:
            return
        with self.lock:
            data = {"granted_usd": self.granted_usd, "used_usd": self.used_usd,
                    "requests": self.requests}
            self.saved_at = time.monotonic()
        try:
            fd, tmp = tempfile.mkstemp(prefix=".demo-books-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(tmp, self.path)
        except OSError:  # a read-only home: the demo still runs, its balance resets next time
            pass

    def first_token(self, seconds: float) -> None:
        with self.lock:
            self.first_tokens.append(seconds)

    def exhausted(self) -> bool:
        with self.lock:
            return self.used_usd >= self.granted_usd

    def snapshot(self) -> dict:
        with self.lock:
            return {"granted_usd": self.granted_usd, "used_usd": self.used_usd,
                    "remaining_usd": self.granted_usd - self.used_usd, "requests": self.requests,
                    "per_model": {m: dict(row) for m, row in self.per_model.items()},
                    "first_token_s": list(self.first_tokens)}


def render(path: str, snap: dict, key: str, *, unlimited: bool) -> dict:
    """The body a dialect's endpoint returns for this account (`path` must be in PATH_DIALECT)."""
    granted, used = snap["granted_usd"], snap["used_usd"]
    remaining = granted - used
    dialect = PATH_DIALECT[path]
    if dialect == "openrouter":
        if path.endswith("/credits"):
            return {"data": {"total_credits": granted, "total_usage": used}}
        return {"data": {
            "label": _label(key), "limit": None if unlimited else granted,
            "limit_remaining": None if unlimited else remaining, "limit_reset": None,
            "usage": used, "usage_daily": used, "usage_weekly": used, "usage_monthly": used,
            "byok_usage": 0, "is_free_tier": False, "is_provisioning_key": False,
            "include_byok_in_limit": False, "expires_at": None,
            "rate_limit": {"requests": 1000, "interval": "1h",
                           "note": "This field is deprecated and safe to ignore."}}}
    if dialect == "litellm":
        return {"key": hashlib.sha256(key.encode()).hexdigest(), "info": {
            "key_name": _label(key), "key_alias": "demo", "spend": used,
            "max_budget": None if unlimited else granted, "budget_duration": None,
            "budget_reset_at": None, "expires": None, "models": [], "tpm_limit": None,
            "rpm_limit": None, "user_id": "demo-user", "team_id": None, "metadata": {},
            "litellm_budget_table": None}}
    if dialect == "newapi-token":
        granted_q, used_q = round(granted * QUOTA_PER_USD), round(used * QUOTA_PER_USD)
        return {"code": True, "message": "ok", "data": {
            "object": "token_usage", "name": "Demo Token", "total_granted": granted_q,
            "total_used": used_q, "total_available": granted_q - used_q,
            "unlimited_quota": unlimited, "model_limits": {}, "model_limits_enabled": False,
            "expires_at": 0}}
    if dialect == "billing":
        if path.endswith("/usage"):
            return {"object": "list", "total_usage": used * 100}   # cents
        limit = UNLIMITED_USD if unlimited else granted
        return {"object": "billing_subscription", "has_payment_method": True,
                "soft_limit_usd": limit, "hard_limit_usd": limit, "system_hard_limit_usd": limit,
                "access_until": 0}
    return {"used": used, "remaining": None if unlimited else remaining}


# where each dialect's reply holds the used amount: (object, key), object None for the top level
USED_FIELD = {"openrouter": ("data", "usage"), "litellm": ("info", "spend"),
              "newapi-token": ("data", "total_used"), "billing": (None, "total_usage"),
              "simple": (None, "used")}


def with_used(body: dict, path: str, value: object) -> dict:
    """`body` (from `render`) with its used amount replaced by `value`, where it has one."""
    holder, key = USED_FIELD[PATH_DIALECT[path]]
    target = body if holder is None else body.get(holder)
    if isinstance(target, dict) and key in target:
        target[key] = value
    return body


def _label(key: str) -> str:
    """A key as relays label it: never the key itself."""
    return f"{key[:5]}...{key[-3:]}" if len(key) > 12 else "sk-..."
