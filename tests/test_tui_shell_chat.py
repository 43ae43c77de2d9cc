"""Chat details a user notices: what a stopped answer cost, a visible wait, copying any answer,
and earlier answers that keep their width while a new one streams."""

from __future__ import annotations

import re
import time

import pytest

from relay_tui.app import AppOptions, make_app
from relay_tui.demo import DemoRelay
from relay_tui.ui.chat_dialogs import code_blocks
from relay_tui.ui.chat_messages import AnswerBlock, AnswerView
from relay_tui.ui.chat_pane import ChatPane, PromptArea
from tests.conftest import TEST_KEY

SIZE = (160, 48)


async def until(pilot, condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await pilot.pause(0.02)


@pytest.fixture
def slow_relay(monkeypatch, request):
    """A demo relay in real time, with the model figures the test asks for (indirect param)."""
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    relay = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,), model_overrides={"gpt-4.1": request.param})
    relay.start()
    yield relay
    relay.stop()


def chat_app(relay, model: str = "gpt-4.1"):
    app = make_app(AppOptions(base_url=relay.base_url))
    app.set_reactive(type(app).model, model)
    return app


async def settled(pilot) -> ChatPane:
    pane = pilot.app.query_one(ChatPane)
    await until(pilot, lambda: not pane.streaming and all(v.idle for v in pane.query(AnswerView)))
    await pilot.pause()
    return pane


async def type_prompt(pilot, prompt: str) -> ChatPane:
    pane = pilot.app.query_one(ChatPane)
    answers = len(pane.query(AnswerBlock))
    pane.query_one(PromptArea).focus()
    await pilot.press(*prompt, "enter")
    await until(pilot, lambda: len(pane.query(AnswerBlock)) > answers)
    return pane


@pytest.mark.parametrize("slow_relay", [{"ttft": 0.01, "tps": 40.0, "answer_tokens": 400}], indirect=True)
async def test_a_stopped_answer_shows_the_figures_known_so_far(slow_relay):
    app = chat_app(slow_relay)
    async with app.run_test(size=SIZE) as pilot:
        pane = await type_prompt(pilot, "go")
        await until(pilot, lambda: len(pane.query_one(AnswerBlock).text) > 40)
        await pilot.press("escape")
        await settled(pilot)
        status = pane.query_one(AnswerBlock).status_text
        assert status.startswith("■ stopped (partial answer kept) · gpt-4.1 · TTFT ")  # was only the mark
        tokens = int(re.search(r" · (\d+)~ tok so far · ", status).group(1))
        assert tokens == (len(pane.query_one(AnswerBlock).text) + 3) // 4
        assert re.search(r" · \$\d+\.\d{4} \(est\. [\w-]+\)$", status)


@pytest.mark.parametrize("slow_relay", [{"ttft": 1.2, "tps": 200.0, "answer_tokens": 20}], indirect=True)
async def test_waiting_for_the_first_token_shows_the_time_so_far(slow_relay):
    app = chat_app(slow_relay)
    async with app.run_test(size=SIZE) as pilot:
        pane = await type_prompt(pilot, "go")
        block = pane.query_one(AnswerBlock)
        seen = []
        while pane.streaming and not block.text:
            match = re.fullmatch(r"waiting for first token · (\d+\.\d) s", block.status_text)
            if match:
                seen.append(float(match.group(1)))
            await pilot.pause(0.05)
        assert len(set(seen)) >= 3 and seen == sorted(seen) and seen[-1] >= 0.75  # it counts up
        await settled(pilot)
        assert block.status_text.startswith("gpt-4.1 · TTFT ")


@pytest.mark.parametrize("slow_relay", [{"ttft": 0.01, "tps": 0.4, "answer_tokens": 3}], indirect=True)
async def test_a_silence_mid_answer_shows_how_long_it_lasts(slow_relay):
    app = chat_app(slow_relay)
    async with app.run_test(size=SIZE) as pilot:
        pane = await type_prompt(pilot, "go")
        block = pane.query_one(AnswerBlock)
        await until(pilot, lambda: block.text)
        await until(pilot, lambda: block.status_text.startswith("no new text for "))
        assert re.fullmatch(r"no new text for 1\.\d s", block.status_text)
        pane.action_stop()
        await settled(pilot)


async def test_copy_acts_on_the_selected_answer(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = chat_app(demo_relay)
    async with app.run_test(size=SIZE) as pilot:
        for prompt in ("hi", "hello"):  # the demo answers "hi" with two code blocks
            await type_prompt(pilot, prompt)
            pane = await settled(pilot)
        first, second = pane.query(AnswerBlock)
        await pilot.press("shift+tab")  # from the prompt to the last answer
        assert second.has_focus_within and second.styles.border_left[0] == "outer"
        await pilot.press("up")
        assert first.has_focus_within and not second.has_focus_within
        await pilot.press("f10")
        assert app.clipboard == first.text != second.text  # F10 took the last answer only
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen.query("#picker-options"))
        await pilot.press("2", "enter")
        await pilot.pause()
        assert app.clipboard == code_blocks(first.text)[1].code
        await pilot.press("down")
        assert second.has_focus_within
        await pilot.press("f10")
        assert app.clipboard == second.text
        await pilot.press("down")  # past the last answer: back to the prompt
        assert pane.query_one(PromptArea).has_focus
        await pilot.press("f10")
        assert app.clipboard == second.text  # nothing selected: the last answer


@pytest.mark.parametrize("slow_relay", [{"ttft": 0.01, "tps": 300.0}], indirect=True)
async def test_earlier_answers_keep_their_width_while_the_transcript_starts_to_scroll(slow_relay):
    app = chat_app(slow_relay)
    async with app.run_test(size=(80, 40)) as pilot:
        transcript = app.query_one("#chat-transcript")
        await type_prompt(pilot, "first")
        pane = await settled(pilot)
        first = pane.query_one(AnswerBlock).view
        assert transcript.max_scroll_y == 0  # no scrollbar yet
        width = first.size.width
        widths = set()
        sampler = app.set_interval(0.01, lambda: widths.add(first.size.width))  # while it streams
        await type_prompt(pilot, "second")
        await settled(pilot)
        sampler.stop()
        assert transcript.max_scroll_y > 0  # the new answer made the transcript scroll
        assert widths == {width}  # was 2 columns narrower once the scrollbar appeared


async def test_typing_with_an_answer_selected_goes_to_the_prompt(demo_relay, monkeypatch):
    """shift+tab selects an answer for copying; typing then (an "r" too: rename's key in the
    list) lands in the prompt and Enter sends it, Esc returns to the prompt, and after a
    dialog (F8) and ctrl+s the next prompt is not lost either."""
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = chat_app(demo_relay)
    async with app.run_test(size=SIZE) as pilot:
        await type_prompt(pilot, "hi")
        pane = await settled(pilot)
        prompt = pane.query_one(PromptArea)
        await pilot.press("shift+tab")
        assert pane.query_one(AnswerBlock).has_focus_within
        await pilot.press(*"hello world", "enter")
        await until(pilot, lambda: len(pane.query(AnswerBlock)) == 2)
        await settled(pilot)
        assert [m.prompt for m in pane.query("UserMessage")] == ["hi", "hello world"]
        assert app.screen is app.screen_stack[0]  # no rename dialog for the "r" typed
        await pilot.press("shift+tab")
        await pilot.press("escape")
        assert prompt.has_focus
        await pilot.press("shift+tab", "up", "f8")  # the first answer ("hi": two code blocks)
        await pilot.pause()
        await pilot.press("escape")  # closes the settings form
        await pilot.pause()
        await pilot.press("ctrl+s")  # the selected answer's code block (a picker: two blocks)
        await until(pilot, lambda: app.screen.query("#picker-options"))
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press(*"third", "enter")
        await until(pilot, lambda: len(pane.query(AnswerBlock)) == 3)
        await settled(pilot)
        assert [m.prompt for m in pane.query("UserMessage")][-1] == "third"


async def test_quitting_mid_answer_saves_it_as_stopped(capfd):
    """The answer's generator is closed with the worker, while the history is still open (left
    to the loop's shutdown, saving it failed: "Cannot operate on a closed database", printed as
    an asyncgen traceback by `relay-tui screenshots`)."""
    from relay_tui.store.history import History

    app = make_app(AppOptions(demo=True))
    async with app.run_test(size=SIZE) as pilot:
        from relay_tui.demo.catalog import apply_overrides

        demo = app.session.target.demo
        demo.settings.time_scale = 0.2  # five times the catalogue's pace, and a long answer
        demo.models = apply_overrides({m: {"answer_tokens": 3000} for m in demo.models})
        await pilot.pause(0.3)
        await pilot.press(*"go", "enter")
        pane = app.query_one(ChatPane)
        await until(pilot, lambda: pane.query(AnswerBlock) and len(pane.query_one(AnswerBlock).text) > 40)
    with History() as history:
        answer = history.messages(history.conversations()[0].id)[-1]
    assert answer.state == "stopped" and len(answer.content) > 40
    assert "closed database" not in capfd.readouterr().err
