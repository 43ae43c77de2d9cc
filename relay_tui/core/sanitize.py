"""The one boundary for untrusted text: relay answers, reasoning, model ids, error bodies, quota
fields, headers, prompt files. Everything that reaches a terminal, the TUI, an export or `--json`
passes through here first.

Relay text may carry escape sequences (CSI clear-screen, OSC title/link/clipboard writes, DCS),
bells and backspaces that would drive the user's terminal, and invisible or direction-changing
characters (bidi overrides and isolates, LRM/RLM, zero-width characters, the BOM, Unicode tag
characters, line/paragraph separators) that make a model id or a line read differently from what
it holds. Each is replaced by a visible placeholder, so the text stays readable and nothing is
silently dropped: `␛` for ESC, control pictures (`␇`) for other C0 controls, `<U+202E>` for the
rest. Newline and tab are kept.

Two joiners are kept where real text needs them: U+200D (ZWJ) between emoji (👩‍💻) and in
Indic scripts, U+200C (ZWNJ) in Arabic-script and Indic text (Persian words need it); anywhere
else they are shown like the other invisible characters. `neutralise_id` is for one-line names
(model ids, units, header values): it keeps no joiner and folds line breaks too.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# C0 controls except \t and \n; DEL and C1 controls (0x80-0x9f: 8-bit CSI, OSC, DCS); the soft
# hyphen; Arabic letter mark; Hangul fillers (render blank); Mongolian vowel separator; zero-width
# space/joiners, LRM, RLM; line and paragraph separators; bidi embeddings, overrides, isolates;
# word joiner, invisible operators and deprecated format characters; the BOM / zero-width
# no-break space; interlinear annotation marks; noncharacters; lone surrogates (they cannot even
# be encoded for output); Unicode tag characters.
_UNSAFE_CLASS = ("\x00-\x08\x0b-\x1f\x7f-\x9f\xad\u061c\u115f\u1160\u180e\u200b-\u200f"
                 "\u2028-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff0-\ufffb\ufffe\uffff"
                 "\ud800-\udfff\U000e0000-\U000e007f")
_UNSAFE = re.compile(f"[{_UNSAFE_CLASS}]")
# A joiner is kept only between characters of the scripts (or emoji) that need it.
_EMOJI = re.compile("[\u00a9\u00ae\u203c-\u3299\U0001f000-\U0001faff\ufe0f]")
_INDIC = re.compile("[\u0900-\u0dff]")
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufefc]")
_JOINS = {"\u200d": (_EMOJI, _INDIC), "\u200c": (_ARABIC, _INDIC)}


def _placeholder(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code == 0x1B:
        return "␛"
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode "control pictures": ␇ for BEL, ␈ for BS, ...
    if code == 0x7F:
        return "␡"
    return f"<U+{code:04X}>"


def _text_placeholder(match: re.Match[str]) -> str:
    char = match.group()
    scripts = _JOINS.get(char)
    if scripts is not None:
        text, at = match.string, match.start()
        before, after = text[at - 1:at], text[at + 1:at + 2]
        if before and after and any(s.match(before) and s.match(after) for s in scripts):
            return char
    return _placeholder(match)


def neutralise(text: str) -> str:
    """Return `text` with every terminal-controlling or invisible character made visible."""
    if not _UNSAFE.search(text):  # the common case: nothing to replace
        return text
    return _UNSAFE.sub(_text_placeholder, text.replace("\r\n", "\n"))


def neutralise_id(text: str) -> str:
    """A one-line name (model id, unit, header value, request id) from a relay or a file:
    every invisible character visible, line breaks and tabs shown as ␊ and ␉."""
    return _UNSAFE.sub(_placeholder, text).replace("\n", "␊").replace("\t", "␉")


def has_surrogate(text: str) -> bool:
    """True when `text` holds a lone surrogate: what a non-UTF-8 byte in argv or a JSON
    "\\ud800" escape becomes. It is no text: it cannot be encoded to send, store or print."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def mend_surrogates(value: Any) -> Any:
    """`value` (parsed JSON) with every lone surrogate in its strings and keys as U+FFFD, the way
    undecodable bytes read. A JSON "\\ud800" escape parses to one; it can neither be stored nor
    printed (UnicodeEncodeError), so a relay could crash whoever writes it down. Walked without
    recursion: the value may nest as deep as the parser allowed."""
    def mend(text: str) -> str:
        return _LONE_SURROGATE.sub("\ufffd", text)

    if isinstance(value, str):
        return mend(value)
    if not isinstance(value, (dict, list)):
        return value
    top = [value]
    stack = [(value, top, 0)]
    while stack:
        item, parent, at = stack.pop()
        if isinstance(item, str):
            parent[at] = mend(item)
        elif isinstance(item, list):
            copy = list(item)
            parent[at] = copy
            stack.extend((child, copy, i) for i, child in enumerate(copy) if isinstance(child, (str, list, dict)))
        elif isinstance(item, dict):
            keys = [mend(key) if isinstance(key, str) else key for key in item]
            copy = dict(zip(keys, item.values()))
            parent[at] = copy
            stack.extend((child, copy, key) for key, child in copy.items() if isinstance(child, (str, list, dict)))
    return top[0]


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """JSON for `--json`: the data as it is (a program reading it gets the relay's exact text),
    with every character `neutralise` would replace written as a \\u escape, so the bytes on a
    terminal are inert whoever prints them. Still valid JSON: outside strings JSON is ASCII."""
    text = json.dumps(_finite(data), indent=indent, ensure_ascii=False, default=str)
    return _UNSAFE.sub(_escape, text)


def _finite(data: Any) -> Any:
    """NaN and infinities as null: JSON has no such numbers, and a reader would choke on them."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(value) for value in data]
    return data


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # a surrogate pair, as JSON writes characters beyond the BMP
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"
