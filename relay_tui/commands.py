"""What each `relay-tui` subcommand does, over the core. Imported only when a command runs.

Every relay or network failure ends here as one line on stderr and exit code 1; setup problems
(no profile, no key, a broken config file, no keyring) as one line and exit code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from contextlib import contextmanager

from relay_tui.cli import EXIT_OK, EXIT_RELAY, EXIT_USAGE, UsageError
from relay_tui.core.errors import RelayError
from relay_tui.core.sanitize import has_surrogate, json_text, neutralise, neutralise_id


def err(line: str) -> None:
    """One line on stderr. Every line passes the neutraliser: it may quote a relay, a file or argv."""
    print(neutralise(line), file=sys.stderr, flush=True)


def out(line: str = "") -> None:
    """One line on stdout, neutralised like `err`."""
    print(neutralise(line))


def run(args: argparse.Namespace) -> int:
    from relay_tui.core.target import SetupError
    from relay_tui.store.config import ConfigError
    from relay_tui.store.history import HistoryError
    from relay_tui.store.keys import KeyringUnavailable

    handler = COMMANDS[args.command]
    try:
        if args.command in TRACED:
            _start_telemetry()
        return handler(args)
    except RelayError as exc:
        err(f"relay-tui: {exc}")
        return EXIT_RELAY
    except HistoryError as exc:
        err(f"relay-tui: {history_advice(exc)}")
        return EXIT_RELAY
    except (SetupError, ConfigError, KeyringUnavailable, UsageError) as exc:
        err(f"relay-tui: {exc}")
        return EXIT_USAGE
    finally:
        if args.command in TRACED:
            from relay_tui.core import telemetry

            telemetry.stop()


TRACED = ("chat", "compare", "bench")   # the commands whose requests become telemetry spans


def _start_telemetry() -> None:
    """Telemetry on if OTEL_* or config.toml say so; a problem is one line on stderr."""
    from relay_tui.core import telemetry
    from relay_tui.store.config import load_settings

    telemetry.start(load_settings().telemetry)


def history_advice(exc: Exception) -> str:
    """A HistoryError's line (it names the file) with what to do about it."""
    line = str(exc)
    if line.startswith("cannot open") and "WAL" not in line:
        return (f"{line} — move it aside (e.g. rename it to history.db.bad) and run again: "
                f"relay-tui then starts a new, empty history")
    if line.startswith(("cannot write", "cannot read")):
        return f"{line} — check that the disk has room and the file is readable and writable"
    return line


@contextmanager
def target_for(args: argparse.Namespace, *, need_key: bool = True):
    from relay_tui.core.target import resolve_target

    target = resolve_target(profile_name=args.profile, base_url=args.base_url, demo=args.demo,
                            need_key=need_key)
    for warning in target.warnings:
        err(f"relay-tui: {warning}")
    try:
        yield target
    finally:
        target.close()


def _client(target):
    from relay_tui.core.client import RelayClient

    return RelayClient(target.profile, target.api_key, target.key_source)


def _history():
    from relay_tui.store.history import History

    return History()


def _read_prompt(prompt: str | None) -> str:
    if prompt is None or prompt == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("no prompt: give one as an argument or pipe it on stdin")
        prompt = _read_stdin()
    prompt = prompt.strip()
    if not prompt:
        raise UsageError("the prompt is empty")
    return prompt


def _read_stdin() -> str:
    """All of stdin as text; UsageError when it is not UTF-8. Read as bytes and decoded here:
    the text layer would hand on undecodable bytes as lone surrogates (surrogateescape, the
    C locale's default), which can be neither sent to a relay nor stored."""
    raw = getattr(sys.stdin, "buffer", None)
    data = raw.read() if raw is not None else sys.stdin.read()
    where = ""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        text, where = "", f" (byte {exc.start + 1:,})"
    if where or has_surrogate(text):
        raise UsageError(f"stdin is not UTF-8 text{where} — convert it first, e.g. "
                         f"`iconv -f LATIN1 -t UTF-8`")
    return text.removeprefix("\ufeff")  # a BOM some editors write is no part of the prompt


def _model_for(target, model: str | None) -> str:
    model = model or target.profile.default_model
    if not model:
        raise UsageError(f"no model given and profile {target.profile.name!r} has no default_model: "
                         "use -m MODEL (see `relay-tui models`)")
    return model


def _print_json(data) -> None:
    sys.stdout.write(json_text(data) + "\n")


def _retry_printer(attempts: int):
    """`on_retry` for the CLI: one short line per retry; the whole error line comes once, at the
    end, if the last attempt fails too. `attempts` is how many the profile allows in all."""
    def on_retry(notice) -> None:
        err(f"relay-tui: retrying in {notice.delay:.2g} s (attempt {notice.attempt + 1} of "
            f"{attempts}): {short_reason(notice.reason)}")

    return on_retry


_REQUEST_TAG = re.compile(r"\s*\[request [^\]]*\]$")


def short_reason(line: str, limit: int = 90) -> str:
    """What went wrong, without the detail: an error line up to its first ': ', ' — ' or '; '
    ("rate limited by the relay (HTTP 429)", "could not connect to 127.0.0.1:9")."""
    line = _REQUEST_TAG.sub("", line)
    cut = min((i for i in (line.find(": "), line.find(" — "), line.find("; ")) if i > 0),
              default=len(line))
    short = line[:cut].rstrip()
    if short.count("(") > short.count(")"):  # "within 1 s (first-byte timeout" -> close it
        short += ")"
    return short if len(short) <= limit else short[:limit - 1] + "…"


# -- models -----------------------------------------------------------------------------------

def cmd_models(args) -> int:
    with target_for(args) as target:
        async def go():
            async with _client(target) as client:
                return await client.models()

        models = asyncio.run(go())
    if args.json:
        _print_json([{"id": m.id, "owned_by": m.owned_by} for m in models])
    else:
        for m in models:
            out(m.id)
    return EXIT_OK


# -- chat -------------------------------------------------------------------------------------

def cmd_chat(args) -> int:
    from relay_tui.core.chat import Conversation
    from relay_tui.core.events import Delta, Done, Reasoning
    from relay_tui.core.summary import footer

    prompt = _read_prompt(args.prompt)
    params = {k: v for k, v in (("temperature", args.temperature), ("max_tokens", args.max_tokens))
              if v is not None}
    with target_for(args) as target:
        model = _model_for(target, args.model)
        history = _history()
        state = {"text": [], "reasoning": [], "done": None, "in_reasoning": False}

        async def go():
            async with _client(target) as client:
                conv = Conversation.start(client, history, profile=target.profile.name, model=model,
                                          title=prompt, system_prompt=args.system, params=params)
                on_retry = _retry_printer(target.profile.max_retries + 1)
                async for event in conv.send(prompt, on_retry=on_retry):
                    if isinstance(event, Reasoning):
                        state["reasoning"].append(event.text)
                        if not args.json:
                            sys.stderr.write(neutralise(event.text))
                            sys.stderr.flush()
                            state["in_reasoning"] = True
                    elif isinstance(event, Delta):
                        state["text"].append(event.text)
                        if not args.json:
                            if state["in_reasoning"]:
                                sys.stderr.write("\n")
                                state["in_reasoning"] = False
                            sys.stdout.write(neutralise(event.text))
                            sys.stdout.flush()
                    elif isinstance(event, Done):
                        state["done"] = event

        failure: RelayError | None = None
        try:
            asyncio.run(go())
        except RelayError as exc:  # after the text that arrived: a script with --json gets it too
            failure = exc
        finally:
            try:
                if state["in_reasoning"]:  # ended while thinking: the next line is a new line
                    sys.stderr.write("\n")
                    sys.stderr.flush()
                if not args.json and state["text"]:
                    sys.stdout.write("\n")
                    sys.stdout.flush()
            finally:  # a closed stdout (`| head -c 5`) must not leave the history open
                history.close()
    done = state["done"]
    if args.json:
        _print_json(_answer_json(model, "".join(state["text"]), "".join(state["reasoning"]), done,
                                 failure))
    elif done is not None:
        err(footer(done, model))
    if failure is not None:
        raise failure  # its one line on stderr, exit 1 (commands.run)
    return EXIT_OK


def _answer_json(model: str, text: str, reasoning: str, done, error: RelayError | None = None) -> dict:
    from relay_tui.core.records import metrics_dict

    data = {"model": model, "text": text, "reasoning": reasoning or None}
    if done is not None:
        m = done.metrics
        data.update(served_model=m.served_model, finish_reason=done.finish_reason,
                    request_id=m.request_id, metrics=metrics_dict(m),
                    cost_usd=done.cost.usd if done.cost else None,
                    cost_source=done.cost.source if done.cost else None)
    if error is not None:
        data.update(error=str(error), error_kind=error.kind, request_id=error.request_id)
        if done is None and error.metrics is not None:  # the timings of what did arrive
            data.update(metrics=metrics_dict(error.metrics))
    return data


# -- compare ----------------------------------------------------------------------------------

def _models_arg(value: str) -> list[str]:
    models = [m.strip() for m in value.split(",") if m.strip()]
    if not models:
        raise UsageError("give at least one model with -m")
    return models


def _read_prompt_file(path: str) -> list[str]:
    from relay_tui.core.batch import PromptFileError, read_prompt_file

    try:
        return read_prompt_file(path)
    except PromptFileError as exc:
        raise UsageError(str(exc)) from None


def cmd_compare(args) -> int:
    from relay_tui.core.compare import run_comparison

    models = _models_arg(args.models)
    if not 2 <= len(models) <= 8:
        raise UsageError(f"compare takes 2 to 8 models, not {len(models)}: -m A,B[,C...] (a model "
                         f"may appear twice, e.g. -m {models[0]},{models[0]})")
    if args.prompts and args.prompt is not None:
        raise UsageError("give either --prompts FILE or a prompt, not both")
    prompts = _read_prompt_file(args.prompts) if args.prompts else [_read_prompt(args.prompt)]
    with target_for(args) as target:
        history = _history()
        results = []

        async def go():
            async with _client(target) as client:
                for index, prompt in enumerate(prompts, 1):
                    if len(prompts) > 1:
                        err(f"[{index}/{len(prompts)}] {prompt[:60]}")
                    results.append(await run_comparison(
                        client, history, profile=target.profile.name, models=models, prompt=prompt,
                        system_prompt=args.system, max_tokens=args.max_tokens,
                        on_column_done=_column_failure if args.json else _column_progress))

        try:
            asyncio.run(go())
        finally:
            history.close()
    if args.json:
        _print_json([r.as_json() for r in results] if args.prompts else results[0].as_json())
    else:
        for result in results:
            _print_comparison(result)
    return EXIT_OK if all(c.error is None for r in results for c in r.columns) else EXIT_RELAY


def _column_progress(column) -> None:
    from relay_tui.core.summary import footer

    if column.error is None:
        err(f"  ✓ {footer(column.done, column.model)}")
    _column_failure(column)


def _column_failure(column) -> None:
    """A failed column's line on stderr, with --json too (as `chat --json` says its failure)."""
    if column.error is not None:
        err(f"  ✗ {column.model}: {column.error}")


def _print_comparison(result) -> None:
    from relay_tui.core.summary import fmt_seconds

    for column in result.columns:
        out(f"=== {column.model} ===")
        out(column.text)
        if column.error is not None:
            out(f"[error] {column.error}")
        out()
    summary = result.summary()
    if summary:
        out("--- summary ---")
        for label, (model, value) in summary.items():
            if "first token" in label:
                shown = fmt_seconds(value)
            elif "$" in label:
                shown = f"${value:.6f}"
            else:
                shown = value
            out(f"{label}: {model} ({shown})")


# -- quota ------------------------------------------------------------------------------------

def cmd_quota(args) -> int:
    from relay_tui.core.quota import read_quota
    from relay_tui.core.stats import store_reading

    with target_for(args) as target:
        dialect = args.dialect or target.profile.quota_dialect

        async def go():
            async with _client(target) as client:
                return await read_quota(client, dialect)

        reading = asyncio.run(go())
        history = _history()
        try:
            store_reading(history, target.profile.name, reading)
        finally:
            history.close()
    if args.json:
        _print_json({"profile": target.profile.name, "dialect": reading.dialect,
                     "granted": reading.granted, "used": reading.used,
                     "remaining": reading.remaining, "unlimited": reading.unlimited,
                     "unit": reading.unit, "read_at": reading.read_at})
        return EXIT_OK
    import time

    from relay_tui.core.summary import fmt_amounts

    granted, used, remaining = fmt_amounts([reading.granted, reading.used, reading.remaining],
                                           reading.unit)
    out(f"profile    {target.profile.name}")
    out(f"granted    {'unlimited' if reading.unlimited else granted}")
    out(f"used       {used}")
    out(f"remaining  {'unlimited' if reading.unlimited else remaining}")
    out(f"read from  {reading.dialect} at {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(reading.read_at))}")
    return EXIT_OK


# -- bench ------------------------------------------------------------------------------------

def cmd_bench(args) -> int:
    from relay_tui.core import telemetry
    from relay_tui.core.fanout import bench
    from relay_tui.core.records import log_bench_record
    from relay_tui.core.telemetry.spans import bench_attributes

    models = _models_arg(args.models)
    messages = [{"role": "user", "content": args.prompt}]
    with target_for(args) as target:
        history = _history()
        progress = {"done": 0, "total": args.requests * len(models)}

        def on_progress(*_):
            progress["done"] += 1
            if not args.json and sys.stderr.isatty():
                sys.stderr.write(f"\r{progress['done']}/{progress['total']} requests")
                sys.stderr.flush()

        def on_record(record) -> None:  # logged as it lands: Ctrl-C or SIGTERM keeps what finished
            log_bench_record(history, record, profile=target.profile.name, kind="bench")

        async def go():
            async with _client(target) as client:
                return await bench(client, models, args.requests, args.concurrency, messages,
                                   max_tokens=args.max_tokens, on_progress=on_progress,
                                   on_record=on_record)

        try:
            with telemetry.run("bench", bench_attributes(models, args.requests, args.concurrency)):
                result = asyncio.run(go())
        finally:
            history.close()
        if not args.json and sys.stderr.isatty():
            sys.stderr.write("\n")
    if args.json:
        _print_json(result.as_json())
    else:
        _print_bench(result)
    sys.stdout.flush()  # the figures before the errors that explain them
    _report_bench_errors(result)
    return EXIT_RELAY if any(s.errors for s in result.per_model) else EXIT_OK


def _report_bench_errors(result) -> None:
    """Per model and kind of failure: how many, and the first such error's own line."""
    start = 0
    for s in result.per_model:
        records = result.records[start:start + s.requests]  # each model's records follow the last's
        start += s.requests
        first: dict[str, RelayError] = {}
        for record in records:
            if record.error is not None:
                first.setdefault(record.error.kind, record.error)
        for kind, count in sorted(s.error_kinds.items()):
            err(f"relay-tui: {s.model}: {count} of {s.requests} requests failed ({kind}), "
                f"the first with: {first[kind]}")


def _print_bench(result) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from relay_tui.core.sanitize import neutralise_id

    from relay_tui.core.stats import BENCH_COLUMNS, bench_cells

    table = Table(title=f"{result.requests} requests at concurrency {result.concurrency} "
                        f"in {result.wall:.2f} s ({result.requests_per_s:.1f} req/s)",
                  caption="times in ms as p50/p95/p99; tok/s is the p50 of output speed")
    for name in BENCH_COLUMNS:
        table.add_column(name, justify="left" if name == "model" else "right", no_wrap=True)
    for s in result.per_model:  # plain Text: a model name like "[link=…]" is not Rich markup
        table.add_row(*(Text(neutralise_id(cell)) for cell in bench_cells(s)))
    Console(highlight=False, width=None if sys.stdout.isatty() else 160).print(table)


# -- keys -------------------------------------------------------------------------------------

def _profile_named(name: str | None):
    from relay_tui.store.config import load_settings

    settings = load_settings()
    name = name or settings.active_profile
    if name is None:
        raise UsageError("name a profile (see `relay-tui profiles list`)")
    if name not in settings.profiles:
        raise UsageError(f"no profile named {name!r}; add it with `relay-tui profiles add {name} --base-url URL`")
    return settings.profiles[name]


def cmd_keys(args) -> int:
    from relay_tui.store import keys

    if args.action == "list":
        return _list_keys()
    profile = _profile_named(args.name)
    if args.action == "delete":
        removed = keys.delete_key(profile.name)
        out(f"key for {profile.name} {'deleted' if removed else 'was not set'}")
        return EXIT_OK
    key = _read_secret(f"API key for {profile.name}: ")
    if args.insecure_storage:
        keys.set_key(profile.name, key, insecure_file=True)
        out(f"key for {profile.name} saved in {keys.key_file_path()} ({keys.mask(key)})")
        err(f"relay-tui: warning: the key is stored unencrypted in {keys.key_file_path()} (readable "
            f"by you only); anyone with access to your account or its backups can read it — an OS "
            f"keyring or an environment variable (profiles add --key-env) is safer")
    else:
        try:
            keys.set_key(profile.name, key)
        except keys.KeyringUnavailable as exc:
            raise UsageError(f"{exc}, or store it in a plain file only you can read: relay-tui "
                             f"keys set {profile.name} --insecure-storage") from None
        out(f"key for {profile.name} saved in the OS keyring ({keys.mask(key)})")
    _warn_plain_http(profile.base_url, profile.proxy)
    return EXIT_OK


def _list_keys() -> int:
    """Every profile's key, masked, with where it comes from; a profile whose key would come
    from a keyring this machine lacks says so (and the others still list)."""
    from relay_tui.store import keys
    from relay_tui.store.config import load_settings

    settings = load_settings()
    if not settings.profiles:
        out("no profiles yet: `relay-tui profiles add NAME --base-url URL`")
    for profile in settings.profiles.values():
        try:
            key, source = keys.get_key(profile), keys.key_source(profile)
        except keys.KeyringUnavailable:
            key, source = None, "no OS keyring: set " + (profile.key_env or keys.ENV_VAR) + \
                f" or `keys set {profile.name} --insecure-storage`"
        if key is None and profile.key_env and source is None:
            source = f"{profile.key_env} is not set"
        age = keys.key_age_days(profile.name) if key else None
        line = f"{profile.name:16} {keys.mask(key) if key else '(no key)':14} {source or ''}"
        if age is not None:
            line += f"  set {age:.0f} days ago"
            if keys.needs_rotation(profile.name):
                line += " — rotate it: it is over 90 days old"
        out(line.rstrip())
    return EXIT_OK


def _warn_plain_http(base_url: str, proxy: str | None = None) -> None:
    from relay_tui.core.target import plain_http_warning

    warning = plain_http_warning(base_url, proxy)
    if warning:
        err(f"relay-tui: {warning}")


def _read_secret(prompt: str) -> str:
    if sys.stdin is not None and sys.stdin.isatty():
        import getpass

        key = getpass.getpass(prompt)
    else:
        key = (sys.stdin.readline() if sys.stdin else "")
    key = key.strip()
    if not key:
        raise UsageError("no key given (type it at the prompt, or pipe it on stdin)")
    if any(c.isspace() for c in key):
        raise UsageError("a key cannot contain spaces")
    if not (key.isascii() and key.isprintable()):  # never repeated: it is (nearly) the key
        raise UsageError("a key is printable ASCII; this one holds other characters (a bad paste "
                         "or the wrong encoding?)")
    return key


# -- profiles ---------------------------------------------------------------------------------

def cmd_profiles(args) -> int:
    from relay_tui.store import config

    if args.action == "list":
        settings = config.load_settings()
        active = settings.effective_profile
        if args.json:
            _print_json([{"name": p.name, "base_url": p.base_url, "default_model": p.default_model,
                          "quota_dialect": p.quota_dialect, "active": p.name == active}
                         for p in settings.profiles.values()])
            return EXIT_OK
        if not settings.profiles:
            out("no profiles yet: `relay-tui profiles add NAME --base-url URL`")
        for p in settings.profiles.values():
            mark = "*" if p.name == active else " "
            out(f"{mark} {p.name:16} {p.base_url}  {p.default_model or ''}".rstrip())
        if settings.profiles and active is None:
            out("no profile is active (* marks it): `relay-tui profiles use NAME`")
        return EXIT_OK
    if not args.name:
        raise UsageError(f"profiles {args.action} needs a NAME")
    if args.action == "remove":
        if not config.remove_profile(args.name):
            known = ", ".join(sorted(config.load_settings().profiles)) or "none yet"
            raise UsageError(f"there is no profile named {args.name!r} (profiles: {known}); "
                             f"see `relay-tui profiles list`")
        out(f"profile {args.name} removed (its key stays in the keyring: `relay-tui keys delete {args.name}`)")
        settings = config.load_settings()
        if settings.active_profile:
            out(f"the active profile is {settings.active_profile}")
        elif settings.profiles:
            out(f"no profile is active now: choose one with `relay-tui profiles use NAME` "
                  f"({', '.join(sorted(settings.profiles))})")
        return EXIT_OK
    if args.action == "use":
        _profile_named(args.name)
        config.set_active_profile(args.name)
        out(f"{args.name} is now the active profile")
        return EXIT_OK
    if args.action == "edit":
        return _edit_profile(args)
    return _add_profile(args)


def _headers(args) -> dict[str, str]:
    headers = {}
    for item in args.header:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError("--header takes NAME=VALUE")  # never repeated: it may hold a secret
        if name.strip().lower() in _SECRET_HEADERS:
            raise UsageError(f"--header {name.strip()}: keys do not belong in headers; store it "
                             f"with `relay-tui keys set {args.name}`")
        headers[name.strip()] = value.strip()
    return headers


def _save(profile, *, make_active: bool) -> None:
    from relay_tui.store import config

    try:
        config.save_profile(profile, make_active=make_active)
    except config.ConfigError as exc:
        raise _flag_error(exc, profile.name) or exc from None


def _add_profile(args) -> int:
    from relay_tui.store import config
    from relay_tui.store.profile import Profile

    url = args.url or args.base_url
    if not url:
        raise UsageError("profiles add needs --base-url URL")
    if neutralise_id(args.name) != args.name or args.name != args.name.strip():
        raise UsageError("a profile name is typed on the command line: no control, invisible or "
                         "direction-changing characters, no spaces at its ends")
    settings = config.load_settings()  # a broken config.toml stops here, with its line
    old = settings.profiles.get(args.name)
    if old is not None and not args.force:
        raise UsageError(f"profile {args.name} already exists ({old.base_url}"
                         f"{', model ' + old.default_model if old.default_model else ''}): change "
                         f"some of its settings with `relay-tui profiles edit {args.name} --model "
                         f"…`, or replace it whole with --force")
    profile = Profile(name=args.name, base_url=url.rstrip("/"), default_model=args.default_model,
                      headers=_headers(args), quota_dialect=args.quota_dialect or "auto",
                      proxy=args.proxy, key_env=args.key_env)
    first = settings.effective_profile in (None, args.name)
    _save(profile, make_active=first)
    if profile.key_env:
        state = "set" if os.environ.get(profile.key_env, "").strip() else "not set in this shell yet"
        then = f"its key is read from the environment variable {profile.key_env} ({state})"
    else:
        then = f"now store its key: relay-tui keys set {profile.name}"
    done = "replaced" if old is not None else "saved"
    out(f"profile {profile.name} {done}{' and made active' if first else ''}; {then}")
    _warn_plain_http(profile.base_url, profile.proxy)
    return EXIT_OK


def _edit_profile(args) -> int:
    """Change the settings given, keeping the others (prices, timeouts included)."""
    from dataclasses import replace

    profile = _profile_named(args.name)
    changes = {field: value for field, value in (
        ("base_url", (args.url or "").rstrip("/") or None), ("default_model", args.default_model),
        ("quota_dialect", args.quota_dialect), ("proxy", args.proxy), ("key_env", args.key_env),
        ("headers", _headers(args) if args.header else None)) if value is not None}
    if not changes:
        raise UsageError("profiles edit needs a setting to change: --base-url, --model, --header, "
                         "--quota-dialect, --proxy or --key-env")
    edited = replace(profile, **changes)
    _save(edited, make_active=False)
    out(f"profile {edited.name} updated: " + ", ".join(
        f"{_FLAGS[field]} {'(headers)' if field == 'headers' else getattr(edited, field)}"
        for field in changes))
    if "base_url" in changes:
        _warn_plain_http(edited.base_url, edited.proxy)
    return EXIT_OK


_SECRET_HEADERS = {"authorization", "proxy-authorization", "x-api-key", "api-key"}
_FLAGS = {"base_url": "--base-url", "proxy": "--proxy", "key_env": "--key-env",
          "default_model": "--model", "headers": "--header", "quota_dialect": "--quota-dialect"}


def _flag_error(exc, name: str) -> UsageError | None:
    """config.toml's complaint about a value `profiles add` was given, in terms of its flag: the
    user wrote a flag, not the file's line and column. None when it is about something else."""
    prefix = f"profiles.{name}."
    setting, sep, reason = exc.message.removeprefix(prefix).partition(": ")
    flag = _FLAGS.get(setting.split(".")[0])
    if not exc.message.startswith(prefix) or not sep or flag is None:
        return None
    return UsageError(f"{flag}: {reason}")


# -- demo-relay -------------------------------------------------------------------------------

def cmd_demo_relay(args) -> int:
    import math

    from relay_tui.demo import DEMO_KEY, DemoRelay

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0-65535 (0 picks a free port), not {args.port}")
    if not (math.isfinite(args.time_scale) and args.time_scale >= 0):
        raise UsageError(f"--time-scale must be 0 or more (0 answers at once, 1 at the models' "
                         f"own pace), not {args.time_scale:g}")
    relay = DemoRelay(host=args.host, port=args.port, time_scale=args.time_scale)
    if args.faults:
        try:
            relay.load_faults(args.faults)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot load faults from {args.faults}: {exc}") from None
    listening = False

    def ready(url: str) -> None:
        nonlocal listening
        listening = True
        err(f"demo relay listening on {url}  (key: {DEMO_KEY})  — Ctrl+C to stop")

    try:
        asyncio.run(relay.serve_forever(on_ready=ready))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        if listening:
            raise
        raise UsageError(_listen_error(args.host, args.port, exc)) from None
    return EXIT_OK


def _listen_error(host: str, port: int, exc: OSError) -> str:
    """Why the demo relay could not listen, and which option to change."""
    import errno
    import socket

    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return (f"cannot listen on {host}: the host name does not resolve — give --host an address "
                f"of this machine (default 127.0.0.1)")
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is in use — choose another --port, or "
                f"--port 0 for a free one")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"cannot listen on {where}: {host} is not an address of this machine — use --host "
                f"127.0.0.1 (or another local address)")
    if exc.errno == errno.EACCES:
        return (f"cannot listen on {where}: permission denied (ports below 1024 need privileges) — "
                f"choose another --port")
    return f"cannot listen on {where}: {exc.strerror or exc}"


# -- screenshots ------------------------------------------------------------------------------

def cmd_screenshots(args) -> int:
    from pathlib import Path

    from relay_tui import screenshots

    known = set(screenshots.NAMES)
    unknown = set(args.only or ()) - known
    if unknown:
        raise UsageError(f"no screenshot named {sorted(unknown)[0]!r} (known: {', '.join(sorted(known))})")
    directory = Path(args.directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write screenshots to {directory}: {exc.strerror or exc} — give a "
                         f"directory that can be created or written") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write screenshots to {directory}: permission denied — give a "
                         f"directory you can write")
    for path in screenshots.run(directory, set(args.only or ()) or None):
        out(str(path))
    return EXIT_OK


# -- telemetry --------------------------------------------------------------------------------

def cmd_telemetry(args) -> int:
    from relay_tui.core.telemetry import TelemetryUnavailable, plan
    from relay_tui.store.config import load_settings

    settings = load_settings()
    if args.action == "status":
        try:
            chosen = plan(settings.telemetry)
        except TelemetryUnavailable as exc:
            raise UsageError(str(exc)) from None
        if chosen is None:
            out("telemetry is off: set OTEL_EXPORTER_OTLP_ENDPOINT=http://COLLECTOR:4318 (or "
                "[telemetry] in config.toml) to send every request as OpenTelemetry spans")
            return EXIT_OK
        out(f"telemetry is on ({chosen.source}) as service {chosen.service_name}; prompts and "
            f"answers {'are' if chosen.capture_content else 'are not'} exported")
        return EXIT_OK
    return _telemetry_export(args, settings)


def _telemetry_export(args, settings) -> int:
    from relay_tui.core.telemetry import TelemetryUnavailable
    from relay_tui.core.telemetry.backfill import export_history, since_epoch

    try:
        since = since_epoch(args.since)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    history = _history()
    try:
        done = export_history(history, settings, since=since,
                              report=lambda line: err(f"relay-tui: {line}"))
    except TelemetryUnavailable as exc:
        raise UsageError(str(exc)) from None
    finally:
        history.close()
    line = (f"{done.requests} requests and {done.runs} comparisons since {args.since} ago: "
            f"{done.sent} spans accepted by the collector")
    if done.dropped:
        line += f", {done.dropped} dropped"
    err(line)
    return EXIT_RELAY if done.failed or done.dropped else EXIT_OK


COMMANDS = {
    "models": cmd_models,
    "chat": cmd_chat,
    "compare": cmd_compare,
    "quota": cmd_quota,
    "bench": cmd_bench,
    "keys": cmd_keys,
    "profiles": cmd_profiles,
    "demo-relay": cmd_demo_relay,
    "screenshots": cmd_screenshots,
    "telemetry": cmd_telemetry,
}
