"""Faults the demo relay injects on demand: what real relays do badly, reproducible at will.

A fault is switched on by `DemoRelay.set_fault`, `POST /_demo/faults` or a faults file; it can be
limited to one model and to a number of requests (`times`), after which it clears itself.
The board is shared between the caller's thread and the relay's loop, hence the lock.
"""

from __future__ import annotations

import json
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from relay_tui.demo.chat import STREAM_ENDERS

# name -> default parameters (the only parameters a fault accepts)
FAULTS: dict[str, dict[str, object]] = {
    # answered instead of the completion ("gate" faults; the first one set wins)
    "rate_limit": {"retry_after": 1.0},
    "server_error": {},
    "unavailable": {},
    "html_error": {"status": 502},
    "auth": {},
    "no_credit": {"style": "oneapi"},
    "forbidden": {},
    "drop_connection": {},
    "reject_stream_options": {},
    "stacked_request_ids": {"hops": 3},
    "hostile_error": {"status": 400},  # an error whose message, type and code carry escapes
    "echo_headers": {"status": 400},   # an error quoting the request's headers (a debug relay)
    # `[` x 100,000 as the whole reply to chat (a gate), /models or a quota read
    "deep_json": {"where": "chat"},
    # delays the response headers (not scaled by time_scale)
    "slow_first_byte": {"delay": 1.0},
    # shape a stream (ignored, and not consumed, by non-stream requests)
    "mid_stream_error": {"after": 5},
    "truncate": {"after": 5},
    "stall": {"after": 5},
    "keep_alives": {"after": 0, "every": 0.1},   # then keep-alive comments only (not scaled)
    "empty_deltas": {"after": 0, "every": 0.1},  # then chunks with an empty delta only
    "malformed_sse": {"after": 3},
    "non_utf8": {"after": 3},
    "huge_line": {"after": 3, "size": 10 * 1024 * 1024},
    "usage_with_choices": {},
    "gzip": {},  # Content-Encoding: gzip, flushed per write (nginx `gzip on` for event streams)
    # shape the answer, streamed or not
    "no_usage": {},
    "null_finish": {},
    "hostile_output": {},
    "hostile_model": {},         # terminal escapes and a bidi override in the served model id
    "nan_usage": {},             # NaN, Infinity and 1e400 in the usage object and its cost
    "think_tags": {},
    "openrouter_reasoning": {},
    # quota endpoints (consumed by quota reads, not by chat requests)
    "unlimited_token": {},
    "quota_error_200": {},
    "impossible_quota": {"value": "NaN"},  # the used amount as NaN, Infinity or 1e400
    "html_quota": {"status": 502},          # an nginx error page instead of the balance
}

GATE = frozenset({"rate_limit", "server_error", "unavailable", "html_error", "auth", "no_credit",
                  "forbidden", "drop_connection", "reject_stream_options", "stacked_request_ids",
                  "hostile_error", "echo_headers", "deep_json"})
STREAM_ONLY = frozenset({"mid_stream_error", "truncate", "stall", "keep_alives", "empty_deltas",
                         "malformed_sse", "non_utf8", "huge_line", "usage_with_choices", "gzip"})
QUOTA = frozenset({"unlimited_token", "quota_error_200", "impossible_quota", "html_quota"})
NO_CREDIT_STYLES = ("openrouter", "oneapi", "openai")
DEEP_JSON_PLACES = ("chat", "models", "quota")
IMPOSSIBLE_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400")


@dataclass
class Fault:
    name: str
    params: dict[str, object]
    model: str | None = None
    times: int | None = None   # requests left; None = until cleared

    @classmethod
    def from_spec(cls, spec: dict) -> "Fault":
        """Validate a spec like {"name": "rate_limit", "model": "gpt-4.1", "times": 2, "retry_after": 3}."""
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            raise ValueError(f"a fault spec needs a string 'name', got {spec!r}")
        spec = dict(spec)
        name = spec.pop("name")
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
        model = spec.pop("model", None)
        times = spec.pop("times", None)
        if model is not None and not isinstance(model, str):
            raise ValueError(f"fault {name}: 'model' must be a string")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError(f"fault {name}: 'times' must be a positive integer")
        defaults = FAULTS[name]
        unknown = set(spec) - set(defaults)
        if unknown:
            allowed = ", ".join(defaults) or "none"
            raise ValueError(f"fault {name}: unknown parameter(s) {', '.join(sorted(unknown))} (allowed: {allowed})")
        params = {**defaults, **spec}
        for key, value in params.items():
            default = defaults[key]
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"fault {name}: {key!r} must be a non-negative number")
        for fault, key, allowed in (("no_credit", "style", NO_CREDIT_STYLES),
                                    ("deep_json", "where", DEEP_JSON_PLACES),
                                    ("impossible_quota", "value", IMPOSSIBLE_NUMBERS)):
            if name == fault and params[key] not in allowed:
                raise ValueError(f"fault {name}: {key} must be one of {', '.join(allowed)}")
        if "every" in params and params["every"] <= 0:
            raise ValueError(f"fault {name}: 'every' must be above 0")
        return cls(name, params, model, times)

    def spec(self) -> dict:
        return {"name": self.name, "model": self.model, "times": self.times, **self.params}


@dataclass
class FaultBoard:
    """The active faults. `take_*` returns the faults one request gets and counts them down."""

    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, fault: Fault) -> None:
        with self.lock:
            self.faults = [f for f in self.faults if (f.name, f.model) != (fault.name, fault.model)]
            self.faults.append(fault)

    def clear(self) -> None:
        with self.lock:
            self.faults = []

    def specs(self) -> list[dict]:
        with self.lock:
            return [f.spec() for f in self.faults]

    def take_chat(self, models: set[str], *, stream: bool, has_stream_options: bool) -> dict[str, dict]:
        """The faults a chat request gets: at most one gate fault (then nothing that shapes an
        answer), or every applicable shaping fault (at most one that ends the stream early)."""
        with self.lock:
            live = [f for f in self.faults if f.name not in QUOTA and (f.model is None or f.model in models)
                    and (f.name != "deep_json" or f.params["where"] == "chat")]
            gates = [f for f in live if f.name in GATE
                     and (f.name != "reject_stream_options" or has_stream_options)]
            if gates:
                chosen = [gates[0]] + [f for f in live if f.name == "slow_first_byte"]
            else:
                chosen = [f for f in live if f.name not in GATE and (stream or f.name not in STREAM_ONLY)]
                enders = [f for f in chosen if f.name in STREAM_ENDERS]
                chosen = [f for f in chosen if f.name not in STREAM_ENDERS or f is enders[0]]
            return self._consume(chosen)

    def take_quota(self, dialect: str) -> dict[str, dict]:
        """Quota faults for one read: `quota_error_200` only concerns the billing pair."""
        with self.lock:
            return self._consume([f for f in self.faults if f.name in QUOTA
                                  and (f.name != "quota_error_200" or dialect == "billing")]
                                 + self._deep("quota"))

    def take_models(self) -> dict[str, dict]:
        """Faults for one /models read."""
        with self.lock:
            return self._consume(self._deep("models"))

    def _deep(self, where: str) -> list[Fault]:
        return [f for f in self.faults if f.name == "deep_json" and f.params["where"] == where]

    def _consume(self, chosen: list[Fault]) -> dict[str, dict]:
        for fault in chosen:
            if fault.times is not None:
                fault.times -= 1
        self.faults = [f for f in self.faults if f.times is None or f.times > 0]
        return {f.name: f.params for f in chosen}


def read_faults(path: str | Path) -> list:
    """The fault specs of a JSON file (a list, or {"faults": [...]}) or a TOML file (`[[fault]]`
    tables). Messages leave the file name to the caller, which says what it was loading."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise ValueError(f"not valid {'TOML' if path.suffix.lower() == '.toml' else 'JSON'}: {why}") from None
    if isinstance(data, dict):
        data = data.get("faults", data.get("fault", []))
    if not isinstance(data, list):
        raise ValueError("expected a list of fault specs")
    return data
