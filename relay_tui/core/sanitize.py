"""Neutralise untrusted model text before it reaches a terminal or an export.

Model output may carry escape sequences (CSI clear-screen, OSC title/link/clipboard writes), bells,
backspaces and bidi overrides that would drive the user's terminal or hide text. Everything but
newline and tab is replaced by a visible placeholder, so the text stays readable and nothing is
silently dropped.
"""

from __future__ import annotations

import re

# C0 controls except \t and \n, DEL, C1 controls (0x80-0x9f, e.g. 8-bit CSI), bidi embeddings,
# overrides and isolates, which can make a line display differently from what it contains.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


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


def neutralise(text: str) -> str:
    """Return `text` with every terminal-controlling character made visible and inert."""
    if text.isprintable():  # the common case: no controls at all, nothing to scan
        return text
    return _UNSAFE.sub(_placeholder, text.replace("\r\n", "\n"))
