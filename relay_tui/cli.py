"""The `relay-tui` command line (DESIGN.md section 6).

Answers go to stdout; metrics, progress and errors to stderr. Exit codes: 0 success, 1 a relay or
network error, 2 a usage or setup error; 130 interrupted, 141 (128 + SIGPIPE, as Unix tools end)
when whoever read stdout went away (`relay-tui models | head -1`). Only argparse is imported at
start-up: every command imports what it needs when it runs, so `relay-tui --help` stays fast and
loads no Textual.
"""

from __future__ import annotations

import argparse
import os
import sys

from relay_tui import __version__

EXIT_OK, EXIT_RELAY, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE, EXIT_TERMINATED = 130, 141, 143


class UsageError(Exception):
    """A problem with how the command was called or set up; exit code 2."""


_RELAY_URL = "https://relay.example.com/v1"


class _Dialects:
    """argparse choices for a quota dialect, read from core/quota.py only when an option is given
    (building the parser, e.g. for --help, imports nothing)."""

    def __init__(self, *extra: str):
        self.extra = extra

    def _names(self) -> tuple[str, ...]:
        from relay_tui.core.quota import DIALECTS

        return ("auto", *DIALECTS, *self.extra)

    def __contains__(self, value: object) -> bool:
        return value in self._names()

    def __iter__(self):
        return iter(self._names())


def _url_type(example: str, *schemes: str):
    """An argparse type for a URL option, by the rule config.toml's URLs follow (scheme, host,
    numeric port). The value is never repeated: a URL may hold a password."""
    need = " or ".join(f"{scheme}://" for scheme in schemes)

    def check(value: str) -> str:
        from relay_tui.store.config import url_ok

        if not url_ok(value, schemes):
            raise argparse.ArgumentTypeError(f"must be a URL starting with {need}, e.g. {example}")
        return value.strip()

    return check


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_COUNT:,}, not {value!r}")
    return number


MAX_COUNT = 1_000_000  # -n, -c, --max-tokens: past this a value is a typo, not a plan


def _temperature(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 <= number <= 2:  # NaN and infinities fail this too
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 2, not {value!r}")
    return number


def _env_name(value: str) -> str:
    from relay_tui.store.config import is_env_name

    if not is_env_name(value):
        raise argparse.ArgumentTypeError("must name an environment variable (letters, digits, _), "
                                         "not hold the key itself")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relay-tui",
        description="A terminal console for the models behind an OpenAI-compatible relay. "
                    "With no command, opens the TUI.",
        epilog="Try it without an account: relay-tui --demo chat -m auto \"hello\"")
    parser.add_argument("--version", action="version", version=f"relay-tui {__version__}")
    parser.add_argument("--profile", "-p", metavar="P", help="relay profile to use (default: the active one)")
    parser.add_argument("--base-url", metavar="URL", type=_url_type(_RELAY_URL, "http", "https"),
                        help="talk to this relay; without --profile the key comes from RELAY_TUI_API_KEY")
    parser.add_argument("--demo", action="store_true",
                        help="use the embedded demo relay (no account or key needed)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("models", help="list the relay's models")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("chat", help="send one prompt and stream the answer to stdout")
    p.add_argument("-m", "--model", help="model id (default: the profile's default model)")
    p.add_argument("-s", "--system", metavar="SYSTEM", help="system prompt")
    p.add_argument("-t", "--temperature", type=_temperature, metavar="T",
                   help="sampling temperature, 0 to 2 (default: the relay's)")
    p.add_argument("--max-tokens", type=_positive_int, metavar="N",
                   help="stop the answer after N tokens (default: the relay's limit)")
    p.add_argument("--json", action="store_true", help="print the answer and its metrics as JSON")
    p.add_argument("prompt", nargs="?", default="-", help="the prompt, or - to read stdin (default)")

    p = sub.add_parser("compare", help="send one prompt to several models at once")
    p.add_argument("-m", "--models", required=True, metavar="A,B[,C...]", help="comma-separated model ids")
    p.add_argument("-s", "--system", metavar="SYSTEM", help="system prompt")
    p.add_argument("--max-tokens", type=_positive_int, metavar="N",
                   help="stop each answer after N tokens (default: the relay's limit)")
    p.add_argument("--prompts", metavar="FILE",
                   help="batch mode: one prompt per line, or JSONL with a \"prompt\" field")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("prompt", nargs="?", default=None, help="the prompt, or - to read stdin")

    p = sub.add_parser("quota", help="balance, used and remaining, read from the relay")
    p.add_argument("--dialect", default=None, choices=_Dialects(), metavar="DIALECT",
                   help="auto, openrouter, litellm, newapi-token, billing or simple "
                        "(default: the profile's quota_dialect)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("bench", help="N requests at concurrency C: TTFT, total and tok/s percentiles")
    p.add_argument("-m", "--models", required=True, metavar="MODEL[,MODEL...]",
                   help="comma-separated model ids, each benched in turn")
    p.add_argument("-n", "--requests", type=_positive_int, default=20, metavar="N",
                   help="requests per model (default 20)")
    p.add_argument("-c", "--concurrency", type=_positive_int, default=4, metavar="C",
                   help="requests in flight at once (default 4)")
    p.add_argument("--prompt", default="Say hello in one short sentence.",
                   help="what every request asks (default: \"Say hello in one short sentence.\")")
    p.add_argument("--max-tokens", type=_positive_int, metavar="N",
                   help="stop each answer after N tokens (default: the relay's limit)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("telemetry", help="OpenTelemetry export: is it on, and backfill the request log",
                       description="Telemetry is on when OTEL_EXPORTER_OTLP_ENDPOINT is set (or "
                                   "[telemetry] in config.toml); needs pip install 'relay-tui[otel]'.")
    p.add_argument("action", choices=["status", "export"],
                   help="status: where spans go; export: send the local request log once")
    p.add_argument("--since", default="7d", metavar="AGE",
                   help="with export: requests from this long ago on, e.g. 7d, 12h (default 7d)")

    p = sub.add_parser("keys", help="API keys in the OS keyring")
    p.add_argument("action", choices=["set", "delete", "list"],
                   help="set (reads the key without echo, or from stdin), delete or list")
    p.add_argument("name", nargs="?", metavar="PROFILE", help="profile (default: the active one)")
    p.add_argument("--insecure-storage", action="store_true",
                   help="with set: store the key in a plain file only you can read (0600), for "
                        "machines without an OS keyring; an environment variable is safer")

    p = sub.add_parser("profiles", help="relay profiles in config.toml",
                       description="add, edit, remove, list or use (make active) relay profiles; "
                                   "the active profile is the one used when none is named")
    p.add_argument("action", choices=["add", "edit", "remove", "list", "use"],
                   help="add, edit, remove, list, or use (make it the active profile)")
    p.add_argument("name", nargs="?", metavar="NAME", help="the profile's name")
    p.add_argument("--base-url", "--url", dest="url", metavar="URL",
                   type=_url_type(_RELAY_URL, "http", "https"),
                   help="with add/edit: the relay's base URL, e.g. https://relay.example.com/v1")
    p.add_argument("--model", dest="default_model", help="with add/edit: default model")
    p.add_argument("--header", action="append", default=[], metavar="NAME=VALUE",
                   help="with add/edit: an extra header sent on every request (repeatable; "
                        "edit replaces the profile's headers)")
    p.add_argument("--quota-dialect", default=None, choices=_Dialects("none"), metavar="DIALECT",
                   help="with add/edit: auto (default), openrouter, litellm, newapi-token, billing, "
                        "simple, none")
    p.add_argument("--proxy", metavar="URL", type=_url_type(
                       "http://proxy.example.com:3128", "http", "https", "socks5", "socks5h"),
                   help="with add/edit: proxy URL for this profile")
    p.add_argument("--key-env", metavar="NAME", type=_env_name,
                   help="with add/edit: environment variable holding this profile's key")
    p.add_argument("--force", action="store_true",
                   help="with add: replace a profile of that name (its settings are lost)")
    p.add_argument("--json", action="store_true", help="with list: print JSON")

    p = sub.add_parser("screenshots", help="regenerate the SVG screenshots against the demo relay")
    p.add_argument("directory", nargs="?", default="screenshots", metavar="DIR",
                   help="where to write them (default: ./screenshots)")
    p.add_argument("--only", action="append", metavar="NAME", help="just this shot (repeatable)")

    p = sub.add_parser("demo-relay", help="run the demo relay as a standalone server")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--faults", metavar="FILE", help="faults to inject (JSON or TOML)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="multiply every injected delay (0 = answer as fast as possible)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # said by the command's own parser, with its usage (not the top level's)
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        (commands.choices.get(args.command) or parser).error(
            f"unrecognized arguments: {' '.join(extra)}")
    terminated = _sigterm_as_interrupt()
    try:
        _check_text_args(args)
        if args.command is None:
            return _open_tui(args)
        from relay_tui import commands

        code = commands.run(args)
        sys.stdout.flush()  # here, where a closed pipe can still be handled, not at exit
        return code
    except UsageError as exc:
        _say(f"relay-tui: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say(f"relay-tui: {'terminated' if terminated else 'interrupted'}")
        return EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output left (`| head -1`): nothing to tell it. stdout goes to devnull so
        # the interpreter's flush of what is still buffered, at exit, does not fail again.
        _stdout_to_devnull()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug: one line and a redacted report, never a traceback
        from relay_tui.core import crash

        _say(crash.handle(exc))
        return crash.EXIT_CRASH


def _say(line: str) -> None:
    from relay_tui.core.sanitize import neutralise

    print(neutralise(line), file=sys.stderr, flush=True)


class _Terminated(list):
    """Truthy once SIGTERM arrived (a list, so the handler can mark it without a global)."""


def _sigterm_as_interrupt() -> _Terminated:
    """SIGTERM (`kill`, a service manager, a closing terminal's job control) ends a command the
    way Ctrl-C does: running requests are cancelled and what arrived is saved (a compare keeps
    its partial answers, bench its finished requests), instead of the process dying mid-write.
    The handler runs whatever SIGINT does at that moment: asyncio.run's handler cancels the main
    task; outside it, KeyboardInterrupt is raised."""
    import signal

    terminated = _Terminated()

    def on_term(signum, frame) -> None:
        terminated.append(signum)
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (a test calling main from a thread)
        pass
    return terminated


def _check_text_args(args: argparse.Namespace) -> None:
    """Refuse arguments that are not valid text: a non-UTF-8 byte in argv arrives as a lone
    surrogate, which could neither be sent to the relay nor stored. Named, never repeated."""
    from relay_tui.core.sanitize import has_surrogate

    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, str) and has_surrogate(item):
                what = "the prompt" if name == "prompt" else f"--{name.replace('_', '-')}"
                raise UsageError(f"{what} is not valid UTF-8 text — check the terminal's or the "
                                 f"locale's encoding (LANG/LC_ALL), or pipe the prompt on stdin")


def _stdout_to_devnull() -> None:
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced (tests) or already closed
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _open_tui(args: argparse.Namespace) -> int:
    from relay_tui.app import AppOptions, make_app
    from relay_tui.store.config import ConfigError
    from relay_tui.store.history import HistoryError

    try:
        app = make_app(AppOptions(profile=args.profile, base_url=args.base_url, demo=args.demo))
    except (ConfigError, HistoryError) as exc:
        print(f"relay-tui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    app.run()
    return app.return_code or EXIT_OK
