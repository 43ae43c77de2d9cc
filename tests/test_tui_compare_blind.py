"""Blind mode holds as a user drives it: F6 follows the blind toggle, every blind run deals the
letters anew, a revealed vote is final, and no column's live state gives its model away."""

from __future__ import annotations

from relay_tui.app import AppOptions, make_app
from relay_tui.demo import DemoRelay
from relay_tui.ui.compare_dialogs import ChoiceScreen
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text
from tests.test_tui_compare import MODELS, SIZE, app, compare, header, open_pane, until  # noqa: F401


def names_shown(pane) -> str:
    """Everything of the comparison on screen that could name a model (headers and summary)."""
    return str(pane.query_one("#cmp-summary").render()) + "".join(header(c) for c in pane.columns)


async def rerun(pilot, pane):
    before = pane.result
    await pilot.press("f6")
    await until(pilot, lambda: pane.result is not None and pane.result is not before
                and all(c.view.idle for c in pane.columns))
    await pilot.pause()
    return pane.result


async def test_f6_follows_the_blind_toggle_not_the_last_run(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        await compare(pilot, pane, MODELS[:3], "Open, then blind")
        assert all(f"· {c.model}" in header(c) for c in pane.columns)
        await pilot.press("ctrl+b")  # "Blind mode on: the next run hides model names until you vote"
        result = await rerun(pilot, pane)
        assert not any(model in names_shown(pane) for model in MODELS)
        assert "Blind: F7 to vote" in screen_text(app)
        assert app.session.history.comparison(result.comparison_id).blind
        await pilot.press("ctrl+b")  # off again: the next re-run shows the names at once
        result = await rerun(pilot, pane)
        assert all(f"{c.label} · {c.model}" in header(c) for c in pane.columns)
        assert not app.session.history.comparison(result.comparison_id).blind


async def test_every_blind_rerun_deals_the_letters_anew(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        pane.shuffler.seed(7)
        await pilot.press("ctrl+b")
        await compare(pilot, pane, MODELS, "Deal again")
        deals = [tuple(c.model for c in pane.columns)]
        for _ in range(3):
            result = await rerun(pilot, pane)
            deals.append(tuple(c.model for c in pane.columns))
            stored = app.session.history.comparison_answers(result.comparison_id)
            assert [a.model for a in stored] == list(deals[-1])  # the history keeps the deal
        assert all(sorted(deal) == sorted(MODELS) for deal in deals)
        assert len(set(deals)) > 1, deals  # the seeded shuffler gives 4 deals, not one kept


async def test_a_revealed_vote_is_final(app):
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        await pilot.press("ctrl+b")
        result = await compare(pilot, pane, MODELS[:2], "Vote once")
        await pilot.press("f7")
        await pilot.press("a")
        await pilot.pause()
        winner = pane.columns[0].model
        assert f"A · {winner}" in header(pane.columns[0])  # revealed
        await pilot.press("f7")
        await pilot.pause()
        assert not isinstance(app.screen, ChoiceScreen)
        said = [n.message for n in app._notifications][-1]
        assert "final" in said and "F6" in said, said
        await pilot.press("b")  # would have picked B in a reopened dialog
        await pilot.pause()
        vote = app.session.history.vote(result.comparison_id)
        assert (vote.outcome, vote.winner_model) == ("A", winner)
        assert app.session.history.win_rates()[winner] == (1, 1)


async def test_a_thinking_model_looks_like_every_other_column_while_blind(monkeypatch):
    # DeepSeek streams its reasoning first (for seconds here); the others start their answers.
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides={
        "deepseek-v3.2": {"ttft": 0.05, "reasoning_tokens": 400},
        "gpt-4.1": {"ttft": 0.05, "answer_tokens": 400}})
    relay.start()
    try:
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        app = make_app(AppOptions(base_url=relay.base_url))
        async with app.run_test(size=SIZE) as pilot:
            pane = await open_pane(pilot, app)
            pane.query_one("#cmp-models").value = "deepseek-v3.2, gpt-4.1"
            await pilot.press("ctrl+b")
            pane.query_one("#cmp-prompt").value = "think first"
            pane.query_one("#cmp-prompt").focus()
            await pilot.press("enter")
            await until(pilot, lambda: len(pane.columns) == 2 and all(c.chunks > 3 for c in pane.columns))
            thinker = next(c for c in pane.columns if c.model == "deepseek-v3.2")
            assert thinker.thinking  # still in its reasoning: the state the header must not show
            await pilot.pause(0.3)  # the header timer (4 Hz) has redrawn both
            states = [header(c).split("\n")[0].split("  ")[-1] for c in pane.columns]
            assert states == ["streaming…", "streaming…"], states
            assert "thinking" not in screen_text(app)
            await pilot.press("escape")
            await until(pilot, lambda: all(c.finished for c in pane.columns))
    finally:
        relay.stop()


async def test_a_thinking_model_says_so_when_not_blind(monkeypatch):
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides={
        "deepseek-v3.2": {"ttft": 0.05, "reasoning_tokens": 400},
        "gpt-4.1": {"ttft": 0.05, "answer_tokens": 400}})
    relay.start()
    try:
        monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
        app = make_app(AppOptions(base_url=relay.base_url))
        async with app.run_test(size=SIZE) as pilot:
            pane = await open_pane(pilot, app)
            pane.query_one("#cmp-models").value = "deepseek-v3.2, gpt-4.1"
            pane.query_one("#cmp-prompt").value = "think first"
            pane.query_one("#cmp-prompt").focus()
            await pilot.press("enter")
            await until(pilot, lambda: len(pane.columns) == 2 and all(c.chunks > 3 for c in pane.columns))
            await pilot.pause(0.3)
            assert "thinking…" in header(pane.columns[0]) and "streaming…" in header(pane.columns[1])
            await pilot.press("escape")
            await until(pilot, lambda: all(c.finished for c in pane.columns))
    finally:
        relay.stop()


async def test_blind_columns_hide_every_figure_that_identifies_a_model_until_the_vote(app):
    """Latency, speed, length and exact cost tell the models apart (a newcomer named them from
    the figures): blind, the headers and summary show none of them; the vote reveals them."""
    async with app.run_test(size=SIZE) as pilot:
        pane = await open_pane(pilot, app)
        await pilot.press("ctrl+b")
        await compare(pilot, pane, MODELS, "Which is which?")
        shown = names_shown(pane)  # every header and the summary
        for figure in ("TTFT ", "tok/s ·", " tok · ", "$0.", "first token:", "cheapest", "fastest"):
            assert figure not in shown, figure
        assert "figures hidden until you vote (F7)" in header(pane.columns[0])
        await pilot.press("f8")  # an export would name them
        await pilot.pause()
        assert "Vote first" in [n.message for n in app._notifications][-1]
        await pilot.press("f7", "a")
        await pilot.pause(0.3)
        column = pane.columns[0]
        assert f"A · {column.model}" in header(column) and "TTFT " in header(column)
        assert "$0." in header(column) and "cheapest: " in names_shown(pane)
