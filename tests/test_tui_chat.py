"""The chat pane, driven with Pilot against the demo relay as a user would drive it."""

from __future__ import annotations

import asyncio
import time

import pytest
from textual.widgets import Collapsible, Input, OptionList

from relay_tui.app import AppOptions, make_app
from relay_tui.core.sanitize import neutralise
from relay_tui.demo import DemoRelay
from relay_tui.store.paths import exports_dir
from relay_tui.ui.chat_dialogs import code_blocks
from relay_tui.ui.chat_messages import AnswerBlock, AnswerView, UserMessage
from relay_tui.ui.chat_pane import ChatPane, PromptArea
from tests.conftest import TEST_KEY

SIZE = (160, 48)


@pytest.fixture
def relay(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return demo_relay


def chat_app(relay, model: str | None = "gpt-4.1"):
    app = make_app(AppOptions(base_url=relay.base_url))
    app.set_reactive(type(app).model, model)
    return app


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await pilot.pause(0.02)


async def settled(pilot) -> ChatPane:
    """Wait until no answer streams and every answer view shows all its text."""
    pane = pilot.app.query_one(ChatPane)
    await until(pilot, lambda: not pane.streaming and all(v.idle for v in pane.query(AnswerView)))
    await pilot.pause()
    return pane


async def send(pilot, prompt: str) -> ChatPane:
    pane = pilot.app.query_one(ChatPane)
    pane.query_one(PromptArea).focus()
    await pilot.press(*prompt, "enter")
    await until(pilot, lambda: pane.streaming or pane.query(AnswerBlock))
    return await settled(pilot)


def last_answer_row(pane):
    return pane.history.messages(pane.conversation.id)[-1]


async def test_send_streams_the_answer_and_saves_it(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        pane = await send(pilot, "hello")
        row = last_answer_row(pane)
        block = pane.query_one(AnswerBlock)
        assert row.state == "done" and row.content and block.text == row.content
        assert [m.role for m in pane.history.messages(pane.conversation.id)] == ["user", "assistant"]
        assert pane.query_one(UserMessage).prompt == "hello"
        assert block.status_text.startswith("gpt-4.1 · TTFT ") and "tok/s" in block.status_text
        assert "$" in block.status_text  # the cost
        assert pane.query_one(PromptArea).text == ""
        first_line = row.content.splitlines()[0].lstrip("# ")
        assert first_line in app.export_screenshot() or first_line.split()[0] in app.export_screenshot()
        options = pane.query_one("#chat-list", OptionList)
        assert options.option_count == 1 and "hello" in str(options.get_option_at_index(0).prompt)


async def test_sending_without_a_model_asks_for_one_and_sends_nothing(relay):
    app = chat_app(relay, model=None)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        pane = app.query_one(ChatPane)
        await until(pilot, lambda: pane.query_one(PromptArea).has_focus)
        await pilot.press(*"hi", "enter")
        await pilot.pause()
        assert [(n.title, n.message) for n in app._notifications] == [("Chat", "pick a model first (ctrl+t)")]
        assert pane.conversation is None and not pane.query(AnswerBlock)
        assert app.history.conversations() == []
        assert pane.query_one(PromptArea).text == "hi"  # kept for when a model is chosen
        app.model = "gpt-4.1"
        await pilot.press("enter")
        await settled(pilot)
        assert last_answer_row(pane).state == "done"


async def test_escape_stops_and_keeps_the_partial_answer(monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    slow = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,),
                     model_overrides={"gpt-4.1": {"ttft": 0.01, "tps": 40.0, "answer_tokens": 400}})
    slow.start()
    try:
        app = chat_app(slow)
        async with app.run_test(size=SIZE) as pilot:
            pane = app.query_one(ChatPane)
            await pilot.press(*"go", "enter")
            await until(pilot, lambda: pane.query(AnswerBlock) and len(pane.query_one(AnswerBlock).text) > 20)
            await pilot.press("escape")
            await settled(pilot)
            block = pane.query_one(AnswerBlock)
            row = last_answer_row(pane)
            assert row.state == "stopped" and row.content and row.content == block.text
            assert block.has_class("-stopped") and "stopped" in block.status_text
            assert "partial answer kept" in block.status_text
    finally:
        slow.stop()


async def test_regenerate_replaces_the_last_answer(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        pane = await send(pilot, "hello")
        first = last_answer_row(pane)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: last_answer_row(pane).request_id != first.request_id)
        await settled(pilot)
        rows = pane.history.messages(pane.conversation.id)
        assert [m.role for m in rows] == ["user", "assistant"] and rows[1].state == "done"
        assert len(pane.query(AnswerBlock)) == 1 and pane.query_one(AnswerBlock).text == rows[1].content


async def test_edit_and_resend_the_last_prompt(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        pane = await send(pilot, "first")
        await send(pilot, "second")
        await pilot.press("ctrl+l")
        assert pane.query_one(PromptArea).text == "second"
        assert "editing your last prompt" in str(pane.query_one("#chat-note").render())
        await pilot.press("end", *"ly", "enter")
        await settled(pilot)
        rows = pane.history.messages(pane.conversation.id)
        assert [(m.role, m.content if m.role == "user" else m.state) for m in rows] == [
            ("user", "first"), ("assistant", "done"), ("user", "secondly"), ("assistant", "done")]
        assert [m.prompt for m in pane.query(UserMessage)] == ["first", "secondly"]


async def test_model_switch_mid_conversation(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        pane = await send(pilot, "hello")
        await pilot.press("ctrl+t")
        await until(pilot, lambda: app.screen.query("#picker-options")
                    and app.screen.query_one("#picker-options").option_count > 1)
        await pilot.press(*"gemini", "enter")
        await until(pilot, lambda: app.model == "gemini-2.5-flash")
        await send(pilot, "again")
        rows = pane.history.messages(pane.conversation.id)
        assert [m.model for m in rows if m.role == "assistant"] == ["gpt-4.1", "gemini-2.5-flash"]
        assert pane.history.conversation(pane.conversation.id).model == "gemini-2.5-flash"
        assert pane.query(AnswerBlock).last().status_text.startswith("gemini-2.5-flash")


async def test_reasoning_is_collapsed_apart_from_the_answer(relay):
    app = chat_app(relay, model="deepseek-v3.2")
    async with app.run_test(size=SIZE) as pilot:
        pane = await send(pilot, "think")
        row = last_answer_row(pane)
        block = pane.query_one(AnswerBlock)
        collapsible = block.query_one(Collapsible)
        assert row.reasoning and block.reasoning == row.reasoning and block.has_class("-reasoning")
        assert collapsible.collapsed and collapsible.display
        assert row.reasoning not in block.text


async def test_error_inline_then_the_app_keeps_working(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        relay.set_fault("auth", times=1)
        pane = await send(pilot, "hello")
        block = pane.query_one(AnswerBlock)
        row = last_answer_row(pane)
        assert row.state == "error" and block.has_class("-error")
        assert block.status_text == f"✗ {row.error}" and "\n" not in block.status_text
        await send(pilot, "again")
        assert last_answer_row(pane).state == "done"
        assert pane.query(AnswerBlock).last().status_text.startswith("gpt-4.1 · ")


async def test_retry_countdown_in_the_answers_place(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        relay.set_fault("rate_limit", retry_after=1, times=1)
        pane = app.query_one(ChatPane)
        await pilot.press(*"hello", "enter")
        await until(pilot, lambda: pane.query(AnswerBlock)
                    and pane.query_one(AnswerBlock).status_text.startswith("retrying in "))
        status = pane.query_one(AnswerBlock).status_text
        assert status.startswith("retrying in 1 s (attempt 1 failed: ") and "429" in status
        await settled(pilot)
        assert last_answer_row(pane).state == "done"
        assert pane.query_one(AnswerBlock).status_text.startswith("gpt-4.1 · ")


async def apples_then_bananas(pilot) -> tuple[ChatPane, int]:
    """Two conversations, "apples" then "bananas" (open): the pane and the older one's id."""
    pane = await send(pilot, "apples")
    apples = pane.conversation.id
    await pilot.press("ctrl+n")
    await send(pilot, "bananas")
    return pane, apples


async def test_sidebar_search_open_rename_delete(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        pane, apples = await apples_then_bananas(pilot)
        options = pane.query_one("#chat-list", OptionList)
        assert options.option_count == 2 and options.get_option_at_index(0).id == str(pane.conversation.id)
        await pilot.press("ctrl+f", *"apple")
        assert pane.query_one("#chat-search", Input).has_focus
        await until(pilot, lambda: options.option_count == 1)
        await pilot.press("enter")  # to the list
        assert options.has_focus
        await pilot.press("enter")  # open
        await settled(pilot)
        assert pane.conversation.id == apples
        assert [m.prompt for m in pane.query(UserMessage)] == ["apples"]
        assert pane.query_one(AnswerBlock).status_text.startswith("gpt-4.1 · TTFT")
        options.focus()
        await pilot.press("r")
        await pilot.press("ctrl+u", *"fruit", "enter")
        assert pane.history.conversation(apples).title == "fruit"
        await pilot.press("delete")
        await pilot.press("n")
        assert pane.history.conversation(apples) is not None
        options.focus()
        await pilot.press("delete", "y")
        await pilot.pause()
        assert pane.history.conversation(apples) is None and pane.conversation is None
        await pilot.press("ctrl+f", "ctrl+u")
        await until(pilot, lambda: options.option_count == 1)


async def test_down_from_the_search_box_walks_into_the_list(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        pane, apples = await apples_then_bananas(pilot)
        await pilot.press("ctrl+f", "down", "down", "enter")  # into the list, one down, open
        await settled(pilot)
        assert pane.conversation.id == apples
        assert [m.prompt for m in pane.query(UserMessage)] == ["apples"]
        await pilot.press("ctrl+j", *"x", "up", "down", "z")  # down in the prompt still moves the cursor
        assert pane.query_one(PromptArea).text == "\nxz"


async def test_export_markdown_and_json_neutralised(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        relay.set_fault("hostile_output")
        pane = await send(pilot, "hello")
        assert "\x1b" in last_answer_row(pane).content
        await pilot.press("f9")
        await pilot.pause()
        files = sorted(exports_dir().iterdir())
        assert [f.suffix for f in files] == [".json", ".md"]
        for path in files:
            text = path.read_text()
            assert "\x1b" not in text and "\x07" not in text and "␛[2J" in text.replace("\\u241b", "␛")
            assert "hello" in text


async def test_copy_answer_and_code_block(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        pane = await send(pilot, "hi")  # the demo's answer to "hi" has two code blocks
        text = pane.query_one(AnswerBlock).text
        await pilot.press("f10")
        assert app.clipboard == neutralise(text)
        blocks = code_blocks(text)
        assert len(blocks) == 2
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen.query("#picker-options"))
        await pilot.press(*"2", "enter")
        await pilot.pause()
        assert app.clipboard == blocks[1].code


async def test_settings_are_saved_with_the_conversation(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        pane = app.query_one(ChatPane)
        await until(pilot, lambda: pane.query_one(PromptArea).has_focus)  # where the app starts
        await pilot.press("f8")
        await until(pilot, lambda: app.screen.query("#system-prompt"))
        await pilot.press(*"Be brief", "tab", *"0.3", "tab", *"500", "ctrl+s")
        await send(pilot, "hello")
        conv = pane.history.conversation(pane.conversation.id)
        assert conv.system_prompt == "Be brief" and conv.params == {"temperature": 0.3, "max_tokens": 500}
        await pilot.press("f8")
        await until(pilot, lambda: app.screen.query("#temperature"))
        app.screen.query_one("#temperature", Input).value = "7"
        await pilot.press("ctrl+s")
        assert "from 0 to 2" in str(app.screen.query_one("#settings-error").render())
        await pilot.press("escape")


async def test_reopened_conversation_shows_its_states(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        history = app.history
        conv = history.new_conversation(title="old", profile="p", model="gpt-4.1")
        history.add_message(conv, "user", "one")
        stopped = history.begin_answer(conv, model="gpt-4.1", request_id="r1")
        history.finish_answer(stopped, state="stopped", content="partial *text*")
        history.add_message(conv, "user", "two")
        failed = history.begin_answer(conv, model="gpt-4.1", request_id="r2")
        history.finish_answer(failed, state="error", content="", error="relay said no (HTTP 500)")
        pane = app.query_one(ChatPane)
        pane.open_conversation(conv)
        await settled(pilot)
        first, second = pane.query(AnswerBlock)
        assert first.text == "partial *text*" and first.status_text.startswith("■ stopped")
        assert second.status_text == "✗ relay said no (HTTP 500)" and second.has_class("-error")
        assert app.model == "gpt-4.1"


async def test_a_reopened_answer_has_the_footer_it_had_live(monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    paced = DemoRelay(time_scale=1.0, accept_keys=(TEST_KEY,),  # paced, so tok/s can be measured
                      model_overrides={"gpt-4.1": {"ttft": 0.01, "tps": 400.0, "answer_tokens": 60}})
    paced.start()
    try:
        app = chat_app(paced)
        async with app.run_test(size=SIZE) as pilot:
            pane = await send(pilot, "hello")
            live = pane.query_one(AnswerBlock).status_text
            assert " tok/s" in live and "– tok/s" not in live
            conv = pane.conversation.id
            await pilot.press("ctrl+n")
            pane.open_conversation(conv)
            await settled(pilot)
            assert pane.query_one(AnswerBlock).status_text == live
    finally:
        paced.stop()


async def test_palette_reaches_the_chat_actions(relay):
    app = chat_app(relay)
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in ("Chat: regenerate the last answer", "Chat: export as Markdown and JSON",
                         "Chat: copy a code block", "Chat: delete the conversation"):
            assert expected in titles


def test_snapshot_after_a_finished_answer(snap_compare, demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = chat_app(demo_relay)

    async def run_before(pilot) -> None:
        pane = await send(pilot, "hello")
        block = pane.query_one(AnswerBlock)
        assert block.status_text.startswith("gpt-4.1 · TTFT ")
        block._status("gpt-4.1 · TTFT (hidden) · tokens and cost checked in other tests")
        pane.query_one(PromptArea).cursor_blink = False  # steady cursor: the blink phase is timing
        await pilot.wait_for_scheduled_animations()
        await pilot.pause(0.1)  # the layout after the last frame (answer height, anchored scroll)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
