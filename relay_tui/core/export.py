"""Export a conversation or a comparison from the history to Markdown, JSON or CSV files.

Model text is untrusted: every string written is neutralised (core.sanitize), so `cat`-ing an
export cannot drive the terminal. Files go to the exports folder unless a directory is given;
exporting the same thing again overwrites its file, so the name stays predictable.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relay_tui.core.chat import stored_done
from relay_tui.core.redact import redact
from relay_tui.core.sanitize import neutralise
from relay_tui.core.summary import footer
from relay_tui.store.paths import exports_dir

if TYPE_CHECKING:
    from relay_tui.store.history import History

CSV_FIELDS = ("comparison_id", "prompt", "column", "model", "served_model", "state", "error", "ttft",
              "total", "tokens_per_s", "output_tokens", "prompt_tokens", "cost_usd", "cost_source",
              "content")


class ExportError(Exception):
    """Nothing to export, or the file cannot be written; `str()` is one line."""


def export_conversation(history: History, conv_id: int, fmt: str,
                        directory: Path | None = None) -> Path:
    """Write conversation `conv_id` as "md" or "json"; return the file's path."""
    conv = history.conversation(conv_id)
    if conv is None:
        raise ExportError(f"conversation {conv_id} does not exist")
    messages = history.messages(conv_id)
    if fmt == "md":
        text = _conversation_md(conv, messages)
    elif fmt == "json":
        text = _dumps({"conversation": _clean(vars(conv)), "messages": [_clean(vars(m)) for m in messages]})
    else:
        raise ExportError(f"a conversation exports as md or json, not {fmt!r}")
    return _write(directory, f"conversation-{conv_id}-{_slug(conv.title)}.{fmt}", text)


def export_comparison(history: History, comparison_id: int, fmt: str,
                      directory: Path | None = None) -> Path:
    """Write comparison `comparison_id` as "md", "json" or "csv"; return the file's path."""
    comp = history.comparison(comparison_id)
    if comp is None:
        raise ExportError(f"comparison {comparison_id} does not exist")
    answers = history.comparison_answers(comparison_id)
    vote = history.vote(comparison_id)
    if fmt == "md":
        text = _comparison_md(comp, answers, vote)
    elif fmt == "json":
        text = _dumps({"comparison": _clean(vars(comp)), "answers": [_clean(vars(a)) for a in answers],
                       "vote": _clean(vars(vote)) if vote else None})
    elif fmt == "csv":
        text = _comparison_csv(comp, answers)
    else:
        raise ExportError(f"a comparison exports as md, json or csv, not {fmt!r}")
    return _write(directory, f"comparison-{comparison_id}.{fmt}", text)


# -- formats ------------------------------------------------------------------------------------

def _conversation_md(conv, messages) -> str:
    out = [f"# {_line(conv.title)}", "",
           f"- profile: {_line(conv.profile)}", f"- model: {_line(conv.model)}",
           f"- started: {_when(conv.created_at)}"]
    if conv.params:
        out.append("- parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(conv.params.items())))
    if conv.system_prompt:
        out += ["", "## System", "", neutralise(conv.system_prompt)]
    for msg in messages:
        if msg.role == "user":
            out += ["", "## User", "", neutralise(msg.content)]
            continue
        out += ["", f"## Assistant ({_line(msg.served_model or msg.model or '?')})", ""]
        out += _answer_md(msg, msg.model)
    return "\n".join(out) + "\n"


def _comparison_md(comp, answers, vote) -> str:
    out = [f"# Comparison {comp.id}", "", f"- profile: {_line(comp.profile)}",
           f"- models: {', '.join(_line(m) for m in comp.models)}",
           f"- blind: {'yes' if comp.blind else 'no'}", f"- date: {_when(comp.created_at)}"]
    if vote is not None:
        out.append(f"- vote: {_line(vote.outcome)}"
                   + (f" ({_line(vote.winner_model)})" if vote.winner_model else ""))
    if comp.system_prompt:
        out += ["", "## System", "", neutralise(comp.system_prompt)]
    out += ["", "## Prompt", "", neutralise(comp.prompt)]
    for answer in answers:
        out += ["", f"## {chr(ord('A') + answer.column)}: {_line(answer.model)}", ""]
        out += _answer_md(answer, answer.model)
    return "\n".join(out) + "\n"


def _answer_md(row, requested_model: str | None) -> list[str]:
    """An answer's body in Markdown: reasoning folded away, text, then its footer or state."""
    out: list[str] = []
    if row.reasoning:
        out += ["<details><summary>Reasoning</summary>", "", neutralise(row.reasoning), "",
                "</details>", ""]
    if row.content:
        out.append(neutralise(row.content))
    done = stored_done(row)
    if done is not None:
        out += ["", f"*{_line(footer(done, requested_model))}*"]
    elif row.state == "error":
        out += ["", f"**error:** {_line(row.error or 'failed')}"]
    elif row.state != "done":
        out += ["", f"*({row.state})*"]
    return out


def _comparison_csv(comp, answers) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for a in answers:
        metrics = a.metrics or {}
        row = _clean({
            "comparison_id": comp.id, "prompt": comp.prompt, "column": chr(ord("A") + a.column),
            "model": a.model, "served_model": a.served_model, "state": a.state, "error": a.error,
            "ttft": metrics.get("ttft"), "total": metrics.get("total"),
            "tokens_per_s": metrics.get("tokens_per_s"), "output_tokens": metrics.get("output_tokens"),
            "prompt_tokens": metrics.get("prompt_tokens"), "cost_usd": a.cost_usd,
            "cost_source": a.cost_source, "content": a.content})
        writer.writerow({k: _inert_cell(v) for k, v in row.items()})
    return buffer.getvalue()


def _inert_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (model output is untrusted: "=HYPERLINK(…"
    or "@SUM(…") gets a leading apostrophe, as OWASP advises; "- item" lists stay as they are."""
    if isinstance(value, str) and value and (
            value[0] in "=+@\t\r" or (value[0] == "-" and value[1:2] not in ("", " "))):
        return "'" + value
    return value


# -- helpers ------------------------------------------------------------------------------------

def _clean(value: Any) -> Any:
    """Neutralise every string inside a record (keys included)."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def _line(text: str) -> str:
    """A value shown inside one Markdown line: neutralised, newlines folded."""
    return neutralise(text).replace("\n", " ")


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "untitled"


def _write(directory: Path | None, name: str, text: str) -> Path:
    try:
        folder = directory or exports_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        # 0600 like history.db: a conversation is private; known secrets out, should a relay
        # have echoed one into an answer
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an export written over keeps no looser mode
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(redact(text))
    except OSError as exc:
        raise ExportError(f"cannot write the export: {exc.strerror or exc} ({exc.filename})") from None
    return path
