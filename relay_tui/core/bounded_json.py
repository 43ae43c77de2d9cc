"""JSON from a relay, parsed within bounds: every non-streamed reply (models, quota, errors, a
whole completion from a relay that ignored `stream`) goes through `loads`.

Size is bounded before this (client.MAX_BODY_BYTES). Depth is bounded here: `[` x 100,000 made
json raise RecursionError (a traceback in the CLI, a stuck pane in the TUI), and a reply a few
hundred levels deep still parsed but broke whoever walked it later. No relay reply we read is
more than a handful of levels deep, so MAX_DEPTH leaves a wide margin. JSON's non-standard
NaN/Infinity constants read as the floats they name, as 1e400 reads as infinity: whoever needs a
finite figure refuses them by name (core.quota: "an impossible used"; token counts and costs are
dropped), where a null would have read as "the field is missing" (a misleading "unexpected
reply"), and `json_text` writes them as null.
"""

from __future__ import annotations

from typing import Any

from relay_tui.core.sanitize import mend_surrogates

try:  # orjson refuses depth over 1024 itself, and NaN; json takes what it refuses
    from orjson import JSONDecodeError as _FastError, loads as _fast_loads
except ImportError:  # no wheel for this platform: json alone
    class _FastError(Exception):  # type: ignore[no-redef]
        pass

    def _fast_loads(data: bytes | str) -> Any:
        raise _FastError("no orjson")

MAX_DEPTH = 64


class JsonRefused(ValueError):
    """Not JSON (`too_deep` False), or JSON nested deeper than MAX_DEPTH (`too_deep` True)."""

    def __init__(self, too_deep: bool = False):
        super().__init__(f"nested over {MAX_DEPTH} levels deep" if too_deep else "not JSON")
        self.too_deep = too_deep


def loads(raw: bytes | str) -> Any:
    """The parsed value; JsonRefused when it is not JSON or is nested deeper than MAX_DEPTH."""
    import json

    try:
        value = _fast_loads(raw)
    except _FastError as exc:
        if "depth" in str(exc).lower() or "recursion" in str(exc).lower():
            raise JsonRefused(too_deep=True) from None
        try:
            value = json.loads(raw)
        except RecursionError:
            raise JsonRefused(too_deep=True) from None
        except ValueError:  # UnicodeDecodeError and too many digits are ValueErrors too
            raise JsonRefused() from None
        value = mend_surrogates(value)  # what orjson refused may hold "\ud800"
    if depth_over(value, MAX_DEPTH):
        raise JsonRefused(too_deep=True)
    return value


def depth_over(value: Any, limit: int) -> bool:
    """True if containers nest deeper than `limit` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
