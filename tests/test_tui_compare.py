"""The compare pane as a user drives it, against the demo relay (time_scale=0): columns stream
the demo relay's answers, failures stay in their column, blind votes, re-run, chat, export, batch."""

from __future__ import annotations

import csv
import re
import time

import httpx
import pytest
from textual.widgets import DataTable, Input, ProgressBar

from relay_tui.app import AppOptions, make_app
from relay_tui.core.compare import ComparisonResult
from relay_tui.ui.chat_pane import ChatPane
from relay_tui.ui.compare_pane import ComparePane
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text

SIZE = (160, 48)
MODELS = ["gpt-4.1", "claude-sonnet-4.5", "gemini-2.5-flash", "deepseek-v3.2"]
PROMPT = "Why stream answers?"


@pytest.fixture
def app(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return make_app(AppOptions(base_url=demo_relay.base_url))


def reference_answer(relay, model: str, prompt: str) -> str:
    """What the demo relay answers this prompt when asked without streaming (an independent path)."""
    reply = httpx.post(f"{relay.base_url}/chat/completions", timeout=10,
                       headers={"Authorization": f"Bearer {TEST_KEY}"},
                       json={"model": model, "stream": False,
                             "messages": [{"role": "user", "content": prompt}]})
    reply.raise_for_status()
    return reply.json()["choices"][0]["message"]["content"]


async def until(pilot, condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the compare pane"
        await pilot.pause(0.02)


async def type_into(pilot, pane: ComparePane, box: str, text: str) -> None:
    field = pane.query_one(box, Input)
    field.focus()
    field.value = ""
    await pilot.press(*text)


async def open_pane(pilot, app) -> ComparePane:
    await pilot.pause()  # the app has settled (the chat pane takes the focus on start)
    await pilot.press("f3")
    pane = app.query_one(ComparePane)
    await until(pilot, lambda: pane.chosen_models())
    return pane


async def compare(pilot, pane: ComparePane, models: list[str] | None = None,
                  prompt: str = PROMPT) -> ComparisonResult:
    """Type the models (if given) and the prompt as a user would, press enter, wait for the end."""
    if models is not None:  # pasted: typing every letter only slows the test down
        pane.query_one("#cmp-models", Input).value = ", ".join(models)
    await type_into(pilot, pane, "#cmp-prompt", prompt)
    before = pane.result
    await pilot.press("enter")
    await until(pilot, lambda: pane.result is not None and pane.result is not before
                and all(c.view.idle for c in pane.columns))
    await pilot.pause()
    return pane.result


def header(column) -> str:
    return str(column.query_one(".cmp-head").render())


@pytest.fixture
def paced_app(monkeypatch):
    """The app on a demo relay that streams at a pace (40 tokens, 5 ms apart): long enough for
    each column to show a real decode speed (events.MIN_RATE_SPAN), and so the summary's
    fastest-output row (time_scale=0 answers in one read, which shows no speed)."""
    from relay_tui.demo import DemoRelay

    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides={
        m: {"ttft": 0.02, "tps": 200.0, "answer_tokens": 40, "reasoning_tokens": 0} for m in MODELS})
    relay.start()
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    yield make_app(AppOptions(base_url=relay.base_url))
    relay.stop()


async def test_default_models_are_the_first_four_and_columns_match_the_history(paced_app):
    app = paced_app
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        assert pane.chosen_models() == MODELS
        result = await compare(pilot, pane)
        answers = app.session.history.comparison_answers(result.comparison_id)
        assert [a.model for a in answers] == MODELS
        for column, answer in zip(pane.columns, answers, strict=True):
            assert answer.state == "done" and answer.content
            assert column.view.text == answer.content
            assert f"{column.label} · {column.model}" in header(column) and "✓ done" in header(column)
        summary = str(pane.query_one("#cmp-summary").render())
        assert len(result.summary()) == 5
        assert all(model in summary for model, _value in result.summary().values())
        assert all(line in screen_text(app) for line in summary.split("\n"))
        assert len(app.session.history.requests()) == 4


async def test_eight_concurrent_columns_complete_with_the_relays_text(app, demo_relay):
    models = MODELS * 2
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        result = await compare(pilot, pane, models, "Compare eight columns")
        assert [c.model for c in pane.columns] == models
        for column in pane.columns:
            assert column.done is not None and column.error is None
            assert column.view.text == reference_answer(demo_relay, column.model, "Compare eight columns")
        stored = app.session.history.comparison_answers(result.comparison_id)
        assert [a.content for a in stored] == [c.view.text for c in pane.columns]
        assert demo_relay.books()["requests"] == 8 + 8  # the columns, then the reference requests


async def test_a_failing_column_shows_its_error_while_the_others_finish(app, demo_relay):
    demo_relay.set_fault("server_error", model="claude-sonnet-4.5")
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        result = await compare(pilot, pane, MODELS[:3])
        failed = pane.columns[1]
        assert failed.error is not None and "✗ error" in header(failed)
        message = str(failed.query_one(".cmp-error").render())
        assert message == str(failed.error) and "500" in message
        assert failed.query_one(".cmp-error").display
        for column in (pane.columns[0], pane.columns[2]):
            assert column.done is not None and column.view.text
            assert not column.query_one(".cmp-error").display
        states = [a.state for a in app.session.history.comparison_answers(result.comparison_id)]
        assert states == ["done", "error", "done"]
        assert "1 of 3 columns failed" in screen_text(app)


async def test_blind_mode_hides_names_until_the_vote_then_shows_win_rates(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        await pilot.press("ctrl+b")
        result = await compare(pilot, pane, MODELS[:3])
        summary = str(pane.query_one("#cmp-summary").render())
        shown = summary + "".join(header(c) for c in pane.columns)
        assert not any(model in shown for model in MODELS)  # (the answers may name models)
        assert "Blind: F7 to vote" in summary and "first token: " not in summary  # figures hide too
        assert [header(c).split("\n")[0].split()[0] for c in pane.columns] == ["A", "B", "C"]
        assert sorted(c.model for c in pane.columns) == sorted(MODELS[:3])
        winner, loser = pane.columns[1].model, pane.columns[0].model
        await pilot.press("f7")
        await pilot.press("b")
        await pilot.pause()
        vote = app.session.history.vote(result.comparison_id)
        assert (vote.outcome, vote.winner_model) == ("B", winner)
        text = screen_text(app)
        assert f"B · {winner}" in header(pane.columns[1])
        assert f"Win rates: {winner} 1/1 (100%)" in text and f"{loser} 0/1 (0%)" in text
        assert app.session.history.win_rates()[winner] == (1, 1)


async def test_blind_columns_do_not_follow_the_order_of_the_models_box(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        await pilot.press("ctrl+b")
        orders = set()
        for _ in range(4):
            pane.query_one("#cmp-prompt", Input).value = "order"
            pane.action_run()
            orders.add(pane.dealt)
        pane.action_stop()
        assert len(orders) > 1  # 4 draws of 24 orders all equal: p = 1/13824


async def test_rerun_saves_a_second_comparison_of_the_same_prompt(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        first = await compare(pilot, pane, MODELS[:2], "Say it twice")
        pane.query_one("#cmp-prompt", Input).value = "something else, not sent"
        await pilot.press("f6")
        await until(pilot, lambda: pane.result is not None and pane.result is not first)
        comparisons = app.session.history.comparisons()
        assert [c.prompt for c in comparisons] == ["Say it twice", "Say it twice"]
        assert pane.result.comparison_id != first.comparison_id


async def test_continue_a_column_as_chat(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        result = await compare(pilot, pane, MODELS[:2], "Start a chat from here")
        await pilot.press("ctrl+n")
        await pilot.press("b")
        await pilot.pause()
        history = app.session.history
        conv = history.conversations()[0]
        assert conv.model == "claude-sonnet-4.5" and conv.title == "Start a chat from here"
        messages = history.messages(conv.id)
        assert [(m.role, m.content) for m in messages] == [
            ("user", "Start a chat from here"), ("assistant", result.columns[1].text)]
        assert app.query_one("#panes").active == "chat"
        assert app.query_one(ChatPane).conversation.id == conv.id and app.model == "claude-sonnet-4.5"


async def test_export_writes_markdown_json_and_csv(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        result = await compare(pilot, pane, MODELS[:2], "Export me")
        paths = {}
        for key, fmt in (("m", "md"), ("j", "json"), ("c", "csv")):
            await pilot.press("f8")
            await pilot.press(key)
            await pilot.pause()
            shown = [n.message for n in app._notifications if n.title == "Exported"][-1]
            paths[fmt] = shown.replace("\n", "")  # folded at "/" to the toast's width
        for fmt, path in paths.items():
            assert path.endswith(f".{fmt}")
        with open(paths["csv"], newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert [(r["comparison_id"], r["prompt"], r["model"]) for r in rows] == [
            (str(result.comparison_id), "Export me", m) for m in MODELS[:2]]
        assert result.columns[0].text.splitlines()[0] in open(paths["md"], encoding="utf-8").read()


async def test_batch_mode_fills_the_table_and_reaches_full_progress(app, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "First batch prompt"}\nSecond batch prompt\n', encoding="utf-8")
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        pane.query_one("#cmp-models", Input).value = "gpt-4.1, gemini-2.5-flash"
        await pilot.press("ctrl+g")
        await pilot.pause()
        screen = app.screen
        screen.query_one("#batch-path", Input).value = str(prompts)
        screen.query_one("#batch-path", Input).focus()
        await pilot.press("enter")
        bar = screen.query_one(ProgressBar)
        table = screen.query_one(DataTable)
        await until(pilot, lambda: bar.percentage == 1 and table.row_count == 4)
        rows = [table.get_row_at(i) for i in range(4)]
        assert {(str(r[0]), str(r[1])) for r in rows} == {
            (p, m) for p in ("First batch prompt", "Second batch prompt")
            for m in ("gpt-4.1", "gemini-2.5-flash")}
        assert all(r[4].isdigit() and re.fullmatch(r"~?\$\d\.\d{4}", r[5]) and str(r[6]) == "ok"
                   for r in rows)
        saved = app.session.history.comparisons()
        assert sorted(c.prompt for c in saved) == ["First batch prompt", "Second batch prompt"]


async def test_palette_reaches_the_compare_actions(app):
    async with app.run_test(size=SIZE):
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for expected in ("Compare: run", "Compare: re-run", "Compare: vote", "Compare: blind mode on/off",
                         "Compare: continue a column as chat", "Compare: export as CSV",
                         "Compare: batch from a prompt file", "Compare: choose models"):
            assert expected in titles


async def test_escape_stops_every_column_and_keeps_the_partial_answers(demo_relay, monkeypatch):
    from relay_tui.demo import DemoRelay

    # Real pace (~1 s to the first token) and long answers: Pilot's key press waits up to 2 s for
    # the app to look idle, which a loaded machine can stretch past a short answer's end.
    slow = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,),
                     model_overrides={m: {"answer_tokens": 3000} for m in ("gemini-2.5-flash", "gpt-4.1")})
    slow.start()
    try:
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        app = make_app(AppOptions(base_url=slow.base_url))
        async with app.run_test(size=SIZE) as pilot:
            pane = await open_pane(pilot, app)
            pane.query_one("#cmp-models", Input).value = "gemini-2.5-flash, gpt-4.1"
            await type_into(pilot, pane, "#cmp-prompt", "stop me")
            await pilot.press("enter")
            await until(pilot, lambda: pane.columns and pane.columns[0].chunks > 3)
            await pilot.press("escape")
            await until(pilot, lambda: all(c.finished for c in pane.columns))
            await pilot.pause()
            assert all(c.stopped and "■ stopped" in header(c) for c in pane.columns)
            stored = app.session.history.comparison_answers(pane.comparison_id)
            assert [a.state for a in stored] == ["stopped", "stopped"]
            assert stored[0].content == pane.columns[0].view.text != ""
            logged = {r.model: r for r in app.session.history.requests()}
            first = logged["gemini-2.5-flash"]  # stopped after its first tokens: F5 shows its TTFT
            assert first.error_kind == "stopped" and first.ttft == pane.columns[0].ttft
            assert first.served_model == "gemini-2.5-flash"
    finally:
        slow.stop()


def snapshot_app(relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return make_app(AppOptions(base_url=relay.base_url))


async def finished_compare(pilot, *, blind: bool) -> None:
    pane = await open_pane(pilot, pilot.app)
    pane.stable_figures = True  # wall-clock figures vary run to run; tokens and cost do not
    pane.shuffler.seed(3)  # blind letters dealt the same way every run
    if blind:
        await pilot.press("ctrl+b")
    await compare(pilot, pane, prompt="Snapshot")
    pilot.app.clear_notifications()
    for column in pane.columns:  # read from the top (where following the stream ends can vary by a row)
        column.view.scroll_home(animate=False)
    pane.columns[0].view.focus()
    await pilot.pause()


def test_snapshot_four_finished_columns(snap_compare, demo_relay, monkeypatch):
    async def run_before(pilot) -> None:
        await finished_compare(pilot, blind=False)

    assert snap_compare(snapshot_app(demo_relay, monkeypatch), terminal_size=SIZE, run_before=run_before)


def test_snapshot_blind_before_the_vote(snap_compare, demo_relay, monkeypatch):
    async def run_before(pilot) -> None:
        await finished_compare(pilot, blind=True)

    assert snap_compare(snapshot_app(demo_relay, monkeypatch), terminal_size=SIZE, run_before=run_before)
