"""Past comparisons reopen in the compare pane (F9 or the palette) from the history alone: their
answers and figures as saved, and from there vote, export, continue as chat and re-run."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input

from relay_tui.app import AppOptions, make_app
from relay_tui.ui.chat_pane import ChatPane
from relay_tui.ui.compare_dialogs import PastComparisonsScreen
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text
from tests.test_tui_compare import MODELS, SIZE, compare, header, open_pane, until

BLIND_PROMPT = "Which relay is fastest?"
FAILING_PROMPT = "Explain retries"


@pytest.fixture
def saved(demo_relay, monkeypatch):
    """A first session saves two comparisons: a blind one nobody votes on, then one with a
    failing column. Returns what the columns showed, per prompt."""
    import asyncio

    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    shown = {}

    async def first_session() -> None:
        app = make_app(AppOptions(base_url=demo_relay.base_url))
        async with app.run_test(size=SIZE) as pilot:
            pane = await open_pane(pilot, app)
            await pilot.press("ctrl+b")
            await compare(pilot, pane, MODELS[:3], BLIND_PROMPT)
            shown[BLIND_PROMPT] = [(c.model, c.view.text, header(c)) for c in pane.columns]
            await pilot.press("ctrl+b")
            demo_relay.set_fault("server_error", model="claude-sonnet-4.5")
            await compare(pilot, pane, MODELS[:2], FAILING_PROMPT)
            demo_relay.clear_faults()
            shown[FAILING_PROMPT] = [(c.model, c.view.text, header(c)) for c in pane.columns]
            shown["error"] = str(pane.columns[1].error)

    asyncio.run(first_session())
    return shown


async def reopen(pilot, app, index: int):
    await pilot.press("f9")
    await pilot.pause()
    assert isinstance(app.screen, PastComparisonsScreen)
    await pilot.press(*["down"] * index, "enter")
    pane = app.query_one("ComparePane")
    await until(pilot, lambda: not isinstance(app.screen, PastComparisonsScreen)
                and pane.columns and all(c.view.idle for c in pane.columns))
    await pilot.pause()
    return pane


def ttft_shown(text: str) -> str:
    return re.search(r"TTFT \S+ ms", text).group(0)


async def test_the_list_is_newest_first_and_a_blind_one_keeps_its_letters_secret(saved, demo_relay):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        await open_pane(pilot, app)
        await pilot.press("f9")
        await pilot.pause()
        text = screen_text(app)
        assert text.index(FAILING_PROMPT) < text.index(BLIND_PROMPT)
        assert "gpt-4.1 · claude-sonnet-4.5" in text and "2 of 2 comparisons" in text
        blind_row = text.splitlines()[text.splitlines().index(next(
            line for line in text.splitlines() if BLIND_PROMPT in line)) + 1]
        assert "(blind, not voted yet)" in blind_row
        assert " · ".join(sorted(MODELS[:3])) in blind_row  # name order, not the letters' order
        await pilot.press(*"retr")  # the search box filters
        await pilot.pause()
        text = screen_text(app)
        assert FAILING_PROMPT in text and BLIND_PROMPT not in text and "1 of 2" in text


async def test_a_blind_comparison_reopens_as_saved_then_votes_exports_and_continues(saved, demo_relay, tmp_path):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        await open_pane(pilot, app)
        requests = demo_relay.books()["requests"]
        pane = await reopen(pilot, app, 1)
        before = saved[BLIND_PROMPT]
        assert [(c.model, c.view.text) for c in pane.columns] == [(m, t) for m, t, _ in before]
        for column, (_model, _text, was) in zip(pane.columns, before, strict=True):
            assert header(column) == was  # letters only, figures hidden, "✓ done"
        assert not any(m in str(pane.query_one("#cmp-summary").render()) for m in MODELS)
        assert "Blind: F7 to vote" in screen_text(app)
        assert pane.query_one("#cmp-prompt", Input).value == BLIND_PROMPT
        assert demo_relay.books()["requests"] == requests  # nothing was asked again

        await pilot.press("f7")
        await pilot.press("c")
        await pilot.pause()
        history = app.session.history
        vote = history.vote(pane.comparison_id)
        assert (vote.outcome, vote.winner_model) == ("C", pane.columns[2].model)
        assert f"C · {pane.columns[2].model}" in header(pane.columns[2])
        assert all(ttft_shown(header(column)) for column in pane.columns)  # the vote shows them

        await pilot.press("f8")
        await pilot.press("j")
        await pilot.pause()
        path = [n.message for n in app._notifications if n.title == "Exported"][-1].replace("\n", "")
        assert BLIND_PROMPT in open(path, encoding="utf-8").read()

        await pilot.press("ctrl+n")
        await pilot.press("b")
        await pilot.pause()
        conv = history.conversations()[0]
        assert [(m.role, m.content) for m in history.messages(conv.id)] == [
            ("user", BLIND_PROMPT), ("assistant", before[1][1])]
        assert app.query_one(ChatPane).conversation.id == conv.id
        assert demo_relay.books()["requests"] == requests


async def test_a_reopened_vote_is_final_and_a_failed_column_keeps_its_error(saved, demo_relay):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        await open_pane(pilot, app)
        pane = await reopen(pilot, app, 0)
        failed = pane.columns[1]
        assert "✗ error" in header(failed) and failed.query_one(".cmp-error").display
        assert "500" in saved["error"] and str(failed.query_one(".cmp-error").render()) == saved["error"]
        assert header(pane.columns[0]) == saved[FAILING_PROMPT][0][2]
        assert "1 of 2 columns failed" in screen_text(app)

        pane = await reopen(pilot, app, 1)  # the blind one: vote, then reopen it
        await pilot.press("f7")
        await pilot.press("a")
        await pilot.pause()
        pane = await reopen(pilot, app, 1)
        assert "Voted A" in screen_text(app)
        assert all(f"{c.label} · {c.model}" in header(c) for c in pane.columns)
        await pilot.press("f7")
        await pilot.pause()
        assert "the vote is final" in [n.message for n in app._notifications][-1]


async def test_rerun_from_a_reopened_comparison_asks_again_and_saves_a_new_one(saved, demo_relay):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        await open_pane(pilot, app)
        pane = await reopen(pilot, app, 0)
        reopened = pane.result
        requests = demo_relay.books()["requests"]
        await pilot.press("f6")
        await until(pilot, lambda: pane.result is not reopened and pane.result is not None
                    and all(c.view.idle for c in pane.columns))
        assert demo_relay.books()["requests"] == requests + 2
        history = app.session.history
        assert [c.prompt for c in history.comparisons()] == [FAILING_PROMPT, FAILING_PROMPT, BLIND_PROMPT]
        assert all(c.done is not None for c in pane.columns)  # the fault is over


async def test_the_palette_opens_past_comparisons(saved, demo_relay):
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        await open_pane(pilot, app)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"open a past comparison")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PastComparisonsScreen)


async def test_batch_prompts_reopen_like_any_comparison(demo_relay, monkeypatch, tmp_path):
    from textual.widgets import DataTable

    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("First batch prompt\nSecond batch prompt\n", encoding="utf-8")
    app = make_app(AppOptions(base_url=demo_relay.base_url))
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        pane.query_one("#cmp-models", Input).value = "gpt-4.1, gemini-2.5-flash"
        await pilot.press("ctrl+g")
        await pilot.pause()
        app.screen.query_one("#batch-path", Input).value = str(prompts)
        app.screen.query_one("#batch-path", Input).focus()
        await pilot.press("enter")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 4 and len(app.session.history.comparisons()) == 2)
        await until(pilot, lambda: all(len(app.session.history.comparison_answers(c.id)) == 2
                                       for c in app.session.history.comparisons()))
        await pilot.press("escape")
        await pilot.pause()
        pane = await reopen(pilot, app, 1)
        assert pane.query_one("#cmp-prompt", Input).value == "First batch prompt"
        stored = app.session.history.comparison_answers(pane.comparison_id)
        assert [c.view.text for c in pane.columns] == [a.content for a in stored]
        assert all("✓ done" in header(c) for c in pane.columns)
