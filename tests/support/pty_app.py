"""The real TUI in a pseudo-terminal: every byte it writes to the terminal, and the screen they draw.

Pilot tests see the app's widgets; these see what a terminal receives, so they can check that
nothing the model sent reaches the terminal as an escape sequence, and that a `kill -9` of the
real process loses nothing. `tokens` splits terminal output into text and escape sequences;
`Screen` replays it on a grid (cursor moves, clears, wide characters) to read what is shown.
"""

from __future__ import annotations

import codecs
import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# ESC [ ... final (CSI), ESC ] ... BEL|ST (OSC), ESC P/X/^/_ ... ST (DCS, SOS, PM, APC),
# ESC + one or two characters (charset selection, keypad modes, ...). A string sequence without its
# terminator runs to the next ESC (a terminal would swallow that text), and a CSI cut off at the
# end of the data is matched too, so neither is ever taken for text.
_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\[[0-?]*[ -/]*$"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]|\x1b$", re.S)
# A sequence whole at the end of a read: its two-character form must not take the "[" of a CSI
# (or the opener of an OSC or string) for a final byte, or a CSI cut in two is drawn as text.
_COMPLETE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)"
                       r"|[PX^_][^\x1b]*\x1b\\|[ -/]*[0-OQ-WYZ\\`-~])")

# What xterm sends for these keys.
KEYS = {"enter": b"\r", "ctrl+t": b"\x14", "f3": b"\x1bOR", "f9": b"\x1b[20~"}


def tokens(data: str) -> list[tuple[str, str]]:
    """`data` as (kind, text) pieces; kind is "text", "csi", "osc", "string" (DCS/SOS/PM/APC) or "esc"."""
    out, pos = [], 0
    for match in _SEQUENCE.finditer(data):
        if match.start() > pos:
            out.append(("text", data[pos:match.start()]))
        seq = match.group()
        kind = {"[": "csi", "]": "osc"}.get(seq[1:2], "string" if seq[1:2] in "PX^_" and seq[1:2] else "esc")
        out.append((kind, seq))
        pos = match.end()
    if pos < len(data):
        out.append(("text", data[pos:]))
    return out


class Screen:
    """A character grid fed with terminal output: enough of a terminal to read Textual's frames."""

    def __init__(self, cols: int, rows: int):
        self.cols, self.rows = cols, rows
        self.grid = [[" "] * cols for _ in range(rows)]
        self.x = self.y = 0

    def feed(self, data: str) -> None:
        for kind, piece in tokens(data):
            if kind == "text":
                self._write(piece)
            elif kind == "csi":
                self._csi(piece)

    def text(self) -> str:
        return "\n".join("".join(row).rstrip() for row in self.grid)

    def _write(self, text: str) -> None:
        for char in text:
            if char == "\r":
                self.x = 0
            elif char == "\n":
                self.y = min(self.y + 1, self.rows - 1)
            elif char >= " " and not unicodedata.combining(char):
                width = 2 if unicodedata.east_asian_width(char) in "WF" else 1
                if self.x + width <= self.cols:
                    self.grid[self.y][self.x] = char
                    if width == 2:
                        self.grid[self.y][self.x + 1] = ""
                self.x = min(self.x + width, self.cols)

    def _csi(self, seq: str) -> None:
        final, params = seq[-1], seq[2:-1]
        if params.startswith(("?", ">", "<", "=")):
            return  # private modes (alternate screen, mouse, synchronised output)
        nums = [int(n) if n.isdigit() else 0 for n in params.split(";")]
        if final in "Hf":
            row, col = (nums + [1, 1])[:2]
            self.y, self.x = min(max(row, 1), self.rows) - 1, min(max(col, 1), self.cols) - 1
        elif final == "J" and nums[0] in (2, 3):
            self.grid = [[" "] * self.cols for _ in range(self.rows)]
        elif final == "K":
            row = self.grid[self.y]
            start, end = {0: (self.x, self.cols), 1: (0, self.x + 1)}.get(nums[0], (0, self.cols))
            row[start:end] = [" "] * (end - start)
        elif final in "ABCD":
            step = max(nums[0], 1)
            if final == "A":
                self.y = max(self.y - step, 0)
            elif final == "B":
                self.y = min(self.y + step, self.rows - 1)
            elif final == "C":
                self.x = min(self.x + step, self.cols - 1)
            else:
                self.x = max(self.x - step, 0)


class ScreenFeed:
    """A Screen fed with a growing output: only the new bytes each time, holding back an escape
    sequence (or UTF-8 character) still arriving."""

    def __init__(self, cols: int, rows: int):
        self.screen = Screen(cols, rows)
        self._fed, self._held = 0, ""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, raw: bytes, end: int | None = None) -> None:
        """Feed `raw[:end]`, of which the part up to the last call was fed already."""
        end = len(raw) if end is None else end
        text = self._held + self._decoder.decode(raw[self._fed:end])
        self._fed = end
        cut = text.rfind("\x1b")
        if cut >= 0 and not _COMPLETE.match(text, cut):
            text, self._held = text[:cut], text[cut:]  # a sequence still arriving
        else:
            self._held = ""
        self.screen.feed(text)


class PtyApp:
    """`python -m relay_tui ARGS` (or any `command`) on a pseudo-terminal of a fixed size; a thread
    keeps its output and when each piece of it arrived (`time.monotonic()`), so a benchmark can
    tell when something first showed (`replay`)."""

    def __init__(self, args: list[str], env: dict[str, str], cols: int = 120, rows: int = 40, *,
                 command: list[str] | None = None):
        self.cols, self.rows = cols, rows
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**os.environ, **env, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        env.pop("NO_COLOR", None)
        self.started = time.monotonic()
        command = command or [sys.executable, "-m", "relay_tui"]  # another script: a test's own app
        self.proc = subprocess.Popen([*command, *args], cwd=ROOT, env=env,
                                     stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                                     close_fds=True)
        os.close(slave)
        self.master = master
        self._raw = bytearray()
        self._reads: list[tuple[float, int]] = []  # (arrived, length of the output until then)
        self._lock = threading.Lock()
        self._live = ScreenFeed(cols, rows)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # EIO once the child side is closed
                return
            if not chunk:
                return
            with self._lock:
                self._raw += chunk
                self._reads.append((time.monotonic(), len(self._raw)))

    @property
    def raw(self) -> bytes:
        """Every byte written to the terminal so far."""
        with self._lock:
            return bytes(self._raw)

    def output(self) -> str:
        return self.raw.decode("utf-8", "replace")

    def screen(self) -> str:
        """The screen as the terminal would show it now (fed incrementally: output grows to MBs)."""
        self._live.feed(self.raw)
        return self._live.screen.text()

    def replay(self, since: float = 0.0):
        """(arrival time, screen) after each read of the output so far that arrived at or after
        `since` (the screen as it was then: everything before is fed too)."""
        with self._lock:
            raw, reads = bytes(self._raw), list(self._reads)
        feed = ScreenFeed(self.cols, self.rows)
        for arrived, end in reads:
            feed.feed(raw, end)
            if arrived >= since:
                yield arrived, feed.screen.text()

    def send(self, *keys: str | bytes) -> None:
        """Type: a key name of KEYS, or bytes / text sent as they are."""
        for key in keys:
            data = KEYS[key] if isinstance(key, str) and key in KEYS else key
            os.write(self.master, data.encode() if isinstance(data, str) else data)

    def type(self, text: str, *, pause: float = 0.005) -> None:
        """Type text one character at a time (a paste could arrive as one bracketed chunk)."""
        for char in text:
            self.send(char)
            time.sleep(pause)

    def wait_for(self, condition, timeout: float = 20.0, what: str = "the screen") -> str:
        """Poll the screen until `condition(screen)` (or a substring given as str) holds; return it."""
        check = (lambda s: condition in s) if isinstance(condition, str) else condition
        deadline = time.monotonic() + timeout
        while True:
            shown = self.screen()
            if check(shown):
                return shown
            if self.proc.poll() is not None:
                raise AssertionError(f"the app exited ({self.proc.returncode}) before {what}:\n{shown}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{shown}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, as a crash or `kill -9` would; wait until the process is gone."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._reader.join(5)

    def close(self) -> None:
        self.kill()
        os.close(self.master)

    def __enter__(self) -> "PtyApp":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
