"""One hostile-string corpus, and the check for what may leave the app.

CORPUS holds what a relay (or a file) could put in any string: C0 and C1 controls, CSI / OSC /
DCS in 7- and 8-bit forms (clear screen, window title, clipboard write, hyperlink, terminal
queries), bidi overrides and isolates, LRM/RLM, zero-width characters, the BOM, U+2028/2029,
Unicode tag characters, Hangul fillers, a lone surrogate, and Rich/Textual markup.

`unsafe(text)` is written independently of relay_tui.core.sanitize (it classifies by Unicode
category, not by the app's list), so a character the neutraliser forgets is still caught.
"""

from __future__ import annotations

import unicodedata

CORPUS = {
    "c0": "bell\x07 backspace\x08\x08 nul\x00 cr\rover vt\x0b ff\x0c",
    "csi7": "\x1b[2J\x1b[H\x1b[31mred\x1b[0m",
    "csi8": "\x9b2J\x9b31mred",
    "osc-title": "\x1b]0;pwned title\x07",
    "osc-clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "osc-link": "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "osc8bit": "\x9d0;pwned\x9c",
    "dcs": "\x1bP+q544e\x1b\\ \x90$q\x9c",
    "bidi": "invoice\u202egnp.exe \u202d\u202a\u202b\u202c",
    "isolates": "\u2066a\u2067b\u2068c\u2069",
    "marks": "gpt\u200e-4\u200f.1\u061c",
    "zero-width": "gpt\u200b-4\u200c.1\u200d\u2060",
    "bom": "\ufeffgpt-4.1",
    "separators": "line\u2028para\u2029end",
    "tags": "gpt-4.1\U000e0041\U000e0042\U000e007f",
    "fillers": "gpt\u3164-4.1\u115f\uffa0",
    "soft-hyphen": "gp\u00adt",
    "rich-markup": "[link=https://evil.example/]click[/link] [/x] [bold red]loud",
}
HOSTILE = " ".join(CORPUS.values())
MARKUP = "[link=https://evil.example/]click[/link] [/x]"


def unsafe(text: str) -> set[str]:
    """Characters that must never leave the app raw (newline and tab are fine)."""
    found = set()
    for char in text:
        code = ord(char)
        if char in "\n\t":
            continue
        if code < 0x20 or 0x7F <= code <= 0x9F or unicodedata.category(char) in ("Cf", "Zl", "Zp", "Cs"):
            found.add(char)
        elif 0xE0000 <= code <= 0xE007F or char in "\u115f\u1160\u3164\uffa0":
            found.add(char)
    return found


def check(where: str, data: bytes | str) -> None:
    """Assert `data` (bytes as written, or text) carries no unsafe character."""
    text = data.decode("utf-8", "surrogateescape") if isinstance(data, bytes) else data
    bad = unsafe(text)
    assert not bad, f"{where}: {sorted(f'U+{ord(c):04X}' for c in bad)}"


def check_stored(history, *profiles: str) -> None:
    """What the history keeps from relays (the quota readings of `profiles` too): every field shown later as a line (ids, models, errors,
    units) inert, and every text (answers, reasoning) storable and printable: no lone surrogate.
    Answers are kept as the relay sent them; each view neutralises them when it shows them."""
    rows = [m for c in history.conversations() for m in history.messages(c.id)]
    requests = history.requests()
    answers = [a for c in history.comparisons() for a in history.comparison_answers(c.id)]
    named = {*profiles, *(r.profile for r in requests), *(c.profile for c in history.comparisons())}
    readings = [q for p in named for q in history.quota_readings(p)]
    for row in rows + answers:
        for value in (row.model, row.served_model, row.error, row.request_id):
            check("a history field shown later", value or "")
        (row.content + row.reasoning).encode("utf-8")
    for r in requests:
        for value in (r.request_id, r.model, r.served_model, r.error):
            check("a request log field shown later", value or "")
    for q in readings:
        check("a stored quota unit", q.unit)
