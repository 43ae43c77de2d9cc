"""The shell at 80×24 (and 160×48): nothing a user needs is cut off: footer, status line,
the settings dialog's buttons, the delete question."""

from __future__ import annotations

import time

import pytest
from textual.widgets import Button, Footer, OptionList
from textual.widgets._footer import FooterKey

from relay_tui.app import AppOptions, make_app
from relay_tui.ui.chat_pane import ChatPane, PromptArea
from relay_tui.ui.status_bar import HTTP_WARNING, StatusBar
from tests.conftest import TEST_KEY
from tests.support.screen import screen_text

SMALL, LARGE = (80, 24), (160, 48)


async def until(pilot, condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await pilot.pause(0.02)


@pytest.fixture
def relay_app(demo_relay, monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    return make_app(AppOptions(base_url=demo_relay.base_url))


def one_line(app) -> str:
    return " ".join(" ".join(row.strip(" │╭╮╰╯─") for row in screen_text(app).splitlines()).split())


@pytest.mark.parametrize("size", [SMALL, LARGE])
async def test_footer_shows_every_key_it_lists_whole(relay_app, size):
    async with relay_app.run_test(size=size) as pilot:
        prompt = relay_app.query_one(ChatPane).query_one(PromptArea)
        await until(pilot, lambda: prompt.has_focus and relay_app.query(FooterKey))
        await pilot.pause()
        footer = relay_app.query_one(Footer)
        keys = [k for k in footer.query(FooterKey) if not k.has_class("-command-palette")]
        palette = footer.query_one(".-command-palette")
        assert keys[-1].region.right <= palette.region.x  # nothing under the palette key
        row = screen_text(relay_app).splitlines()[-1]
        for label in ("esc Stop", "^r Regenerate", "^n New chat", "^t Model", "f10 Copy", "f1 Help"):
            assert label in row
        assert "^p palette" in row
        tabs = screen_text(relay_app).splitlines()[0]
        assert all(f"({key})" in tabs for key in ("F2", "F3", "F4", "F5"))  # the pane keys


async def test_status_line_keeps_the_plain_http_warning_at_80_columns(monkeypatch):
    monkeypatch.setenv("RELAY_TUI_API_KEY", TEST_KEY)
    app = make_app(AppOptions(base_url="http://relay.invalid:9/v1"))  # never resolves: no request lands
    app.set_reactive(type(app).model, "claude-sonnet-4.5")
    async with app.run_test(size=SMALL) as pilot:
        await pilot.pause()
        status = app.query_one(StatusBar).render().plain
        assert HTTP_WARNING in status and "base-url" in status and "claude-sonnet-4.5" in status
        assert len(status) <= SMALL[0] - 2
        await pilot.resize_terminal(50, 24)
        await pilot.pause()
        status = app.query_one(StatusBar).render().plain
        assert HTTP_WARNING in status and len(status) <= 48


async def test_settings_dialog_fits_80x24_with_its_buttons(relay_app):
    async with relay_app.run_test(size=SMALL) as pilot:
        prompt = relay_app.query_one(ChatPane).query_one(PromptArea)
        await until(pilot, lambda: prompt.has_focus)
        await pilot.press("f8")
        await until(pilot, lambda: relay_app.screen.query("#system-prompt"))
        await pilot.pause()
        text = one_line(relay_app)
        assert "ctrl+s saves" in text and "Save (ctrl+s)" in text and "Cancel (Esc)" in text
        for button in relay_app.screen.query(Button):
            assert relay_app.screen.region.contains_region(button.region)


async def test_delete_question_wraps_a_long_title(relay_app):
    title = "a conversation with a title long enough to need two lines in the question box"
    async with relay_app.run_test(size=SMALL) as pilot:
        history = relay_app.history
        conv = history.new_conversation(title=title, profile="p", model="gpt-4.1")
        history.add_message(conv, "user", "one")
        pane = relay_app.query_one(ChatPane)
        await until(pilot, lambda: pane.query_one(PromptArea).has_focus)
        pane._reload_list()
        await pilot.press("ctrl+f", "enter")
        assert pane.query_one("#chat-list", OptionList).has_focus
        await pilot.press("delete")
        await until(pilot, lambda: type(relay_app.screen).__name__ == "Confirm")
        await pilot.pause()
        assert f"Delete “{title}” and its 1 messages?" in one_line(relay_app)
        await pilot.press("n")


@pytest.mark.parametrize("pane, keys", [
    ("f3", ("^r Run", "f6 Rerun", "^l Models", "^b Blind", "f7 Vote", "f8 Export")),
    ("f4", ("^r Refresh quota",)),
    ("f5", ("^r Refresh", "^w Window", "^e Profiles", "^n Probe", "^x Cancel")),
])
async def test_every_panes_footer_fits_80_columns(relay_app, pane, keys):
    async with relay_app.run_test(size=SMALL) as pilot:
        prompt = relay_app.query_one(ChatPane).query_one(PromptArea)
        await until(pilot, lambda: prompt.has_focus)
        await pilot.press(pane)
        await until(pilot, lambda: all(k in screen_text(relay_app).splitlines()[-1] for k in keys))
        footer = relay_app.query_one(Footer)
        shown = [k for k in footer.query(FooterKey) if not k.has_class("-command-palette")]
        assert shown[-1].region.right <= footer.query_one(".-command-palette").region.x


async def test_narrowing_to_80_columns_collapses_a_sidebar_opened_when_wide(relay_app):
    async with relay_app.run_test(size=LARGE) as pilot:
        chat = relay_app.query_one(ChatPane)
        sidebar = chat.query_one("#chat-sidebar")
        await pilot.press("ctrl+f")  # the search opens the sidebar: the user's choice, at 160
        await pilot.press("escape", "ctrl+b", "ctrl+b")
        await pilot.pause()
        assert sidebar.display
        await pilot.resize_terminal(*SMALL)
        await pilot.pause(0.2)
        assert not sidebar.display  # it kept 31 of 80 columns
        assert chat.query_one("#chat-transcript").size.width > 70
        await pilot.press("ctrl+b")  # still there when asked for
        await pilot.pause()
        assert sidebar.display


async def test_long_values_show_their_start_after_leaving_the_field(relay_app):
    async with relay_app.run_test(size=SMALL) as pilot:
        await pilot.press("f3")
        pane = relay_app.query_one("ComparePane")
        await until(pilot, lambda: pane.chosen_models())
        box = pane.query_one("#cmp-models")
        box.value += ", auto, gemini-2.5-flash-lite-preview, claude-opus-4.1-thinking"
        box.focus()
        await pilot.press("end")
        await pilot.pause()
        assert box.scroll_offset.x > 0  # the list is longer than the field: its tail in view
        await pilot.press("tab")
        await pilot.pause()
        assert box.scroll_offset.x == 0 and "gpt-4.1, claude-sonnet-4.5" in screen_text(relay_app)


@pytest.mark.parametrize("pane", ["chat", "compare"])
async def test_export_toasts_break_paths_only_between_folders(relay_app, pane, isolated_home):
    async with relay_app.run_test(size=SMALL, notifications=True) as pilot:  # toasts drawn
        relay_app.model = "gpt-4.1"
        if pane == "chat":
            await pilot.press(*"hi", "enter")
            await until(pilot, lambda: relay_app.history.requests())
            await pilot.pause(0.2)
            await pilot.press("f9")
        else:
            await pilot.press("f3")
            compare = relay_app.query_one("ComparePane")
            await until(pilot, lambda: compare.chosen_models())
            compare.query_one("#cmp-prompt").value = "hi"
            await pilot.press("ctrl+r")
            await until(pilot, lambda: compare.result is not None)
            await pilot.press("f8", "m")
        await until(pilot, lambda: any(n.title == "Exported" for n in relay_app._notifications))
        await pilot.pause(0.3)
        message = next(n.message for n in relay_app._notifications if n.title == "Exported")
        width = 34  # what a toast's text gets at 80 columns
        for line in message.splitlines():
            assert len(line) <= width and (line.endswith("/") or "." in line), message
        await until(pilot, lambda: any("Exported" in row for row in toast_rows(relay_app)))
        shown = "\n".join(toast_rows(relay_app))
        for line in message.splitlines():
            assert line in shown, shown  # each folded line whole in the toast, none cut mid-name
        exports = [p for p in (isolated_home / "exports").iterdir()]
        assert exports and all(p.name in shown for p in exports)


def toast_rows(app) -> list[str]:
    """The rows of the toasts on screen, as drawn at their width."""
    from textual.geometry import Region
    from textual.widgets._toast import Toast

    rows = []
    for toast in app.screen.query(Toast):
        strips = toast.render_lines(Region(0, 0, toast.outer_size.width, toast.outer_size.height))
        rows += [strip.text.strip(" ▌▎▍▊") for strip in strips]
    return rows
