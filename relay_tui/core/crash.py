"""The last resort when relay-tui itself fails: one line for the user, a report file for a bug.

Python's and Textual's own crash output is not fit to show: Textual prints every frame's local
variables (`headers = {'Authorization': 'Bearer sk-…'}`, a proxy URL with its password), and
either may carry a relay's escape sequences. Here the traceback is formatted without locals,
every known secret is redacted (core.redact: keys, header values, URL and proxy credentials),
every character is made inert (core.sanitize), and the result goes to a file only its owner can
read (0600), under the state folder (the temp folder if that cannot be written). The screen
gets one line saying what failed and where the report is.

Imports nothing heavy: the CLI and the TUI both use it, and it must work when much else fails.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from pathlib import Path

from relay_tui import __version__
from relay_tui.core.redact import redact, remember_key
from relay_tui.core.sanitize import neutralise, neutralise_id

EXIT_CRASH = 70  # EX_SOFTWARE (sysexits.h): an internal error


def report_text(exc: BaseException) -> str:
    """The report: versions, then the traceback without locals, redacted and neutralised."""
    remember_key(os.environ.get("RELAY_TUI_API_KEY"))  # a key from the environment, read or not yet
    lines = [f"relay-tui {__version__} crash report",
             f"time: {time.strftime('%Y-%m-%d %H:%M:%S %z')}",
             f"python: {platform.python_version()} ({sys.platform})",
             "local variables: not recorded; known secrets: redacted", "",
             *traceback.format_exception(exc)]
    return neutralise(redact("".join(line if line.endswith("\n") else line + "\n" for line in lines)))


def write_report(exc: BaseException) -> Path | None:
    """Write the report (mode 0600) and return its path; None if no folder would take it."""
    text = report_text(exc).encode("utf-8", "replace")
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in _folders():
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            continue
        try:
            os.write(fd, text)
        except OSError:  # a full disk: keep looking (the temp folder may be elsewhere)
            os.close(fd)
            path.unlink(missing_ok=True)
            continue
        os.close(fd)
        return path
    return None


def _folders() -> list[Path]:
    import tempfile

    folders = []
    try:
        from relay_tui.store.paths import state_dir

        folders.append(state_dir() / "crashes")
    except Exception:  # noqa: BLE001 (a broken home must not stop the report)
        pass
    folders.append(Path(tempfile.gettempdir()) / f"relay-tui-crashes-{getattr(os, 'getuid', lambda: 'user')()}")
    return folders


def crash_line(exc: BaseException, path: Path | None) -> str:
    """The one line on screen: what failed (redacted, inert, short) and where the report went."""
    what = neutralise_id(redact(" ".join(str(exc).split())))
    what = what if len(what) <= 120 else what[:119] + "…"
    where = (f"the report (no keys in it) is in {path}" if path is not None
             else "no crash report could be written (no writable folder)")
    return (f"relay-tui: internal error ({type(exc).__name__}{': ' + what if what else ''}) — a bug in "
            f"relay-tui, not your relay; {where}")


def handle(exc: BaseException) -> str:
    """Write the report for `exc` and return the line to show."""
    try:
        path = write_report(exc)
    except Exception:  # noqa: BLE001 (the last resort must not fail in turn)
        path = None
    return crash_line(exc, path)


def internal_error(exc: BaseException, request_id: str | None = None):
    """A bug met while reading a relay's reply, as a RelayError: the request fails with one line
    (and a report), and the CLI or the TUI goes on like after any failed request."""
    from relay_tui.core.errors import RelayError

    err = RelayError(handle(exc).removeprefix("relay-tui: "), request_id=request_id)
    err.kind = "internal"
    return err
