"""Chat pane: a sidebar of conversations, the transcript with streamed answers, a prompt box.

The network read runs in one worker per answer, consuming `Conversation.send()`/`.answer()`;
it only hands text to the answer's StreamView (cheap, rendered per frame) and the reasoning and
retry countdown are shown by a 250 ms tick, so no message is posted per token. Older messages
stay in the history but not in the widget tree (MAX_MOUNTED), so long conversations stay light.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from contextlib import aclosing

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option, OptionDoesNotExist
from textual.worker import Worker

from relay_tui.core.chat import Conversation, stored_done
from relay_tui.core.errors import RelayError
from relay_tui.core.events import Cost, Delta, Done, Reasoning
from relay_tui.core.export import ExportError, export_conversation
from relay_tui.core.sanitize import neutralise
from relay_tui.store.history import HistoryError
from relay_tui.ui.chat_dialogs import (
    ChatSettings,
    CodeBlockPicker,
    Confirm,
    SettingsForm,
    TextPrompt,
    code_blocks,
)
from relay_tui.ui.chat_messages import AnswerBlock, UserMessage, estimate_tokens
from relay_tui.ui.pickers import InOrderInput, keys_in_order
from relay_tui.ui.toast_text import fold_paths, toast_width

MAX_MOUNTED = 40
"""Messages kept as widgets; older ones are only in the history (and in exports)."""
OPEN_MOUNTED = 10
"""Messages mounted when a conversation is opened: more than a screenful, and opening stays
fast (mounting and rendering 40 took ~1.3 s; DESIGN-NOTES, "Performance")."""
SEARCH_DELAY = 0.15
"""Seconds after the last keystroke in the sidebar search before it searches."""
NARROW = 100
"""Below this width the sidebar starts hidden (ctrl+b shows it)."""
WELCOME = ("Type a prompt and press Enter to send it (ctrl+j adds a new line).\n"
           "ctrl+b conversations · ctrl+t model · F8 system prompt and temperature · F1 every key\n"
           "shift+tab selects an answer (up/down for others): F10 copies it, ctrl+s a code "
           "block; typing, Enter or Esc goes back to the prompt")


class PromptArea(TextArea):
    """The prompt box: Enter sends; ctrl+j (or shift+enter where the terminal reports it) is a newline."""

    class Submitted(Message):
        pass

    async def _on_key(self, event) -> None:
        # TextArea takes printable keys, enter and (when it indents) tab itself; the rest are
        # bindings, run here in typing order (pickers.keys_in_order)
        here = event.is_printable or event.key in ("enter", "ctrl+j", "shift+enter") or (
            event.key == "tab" and self.tab_behavior == "indent")
        if await keys_in_order(self, event, handled_here=here):
            return
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted())
        elif event.key in ("ctrl+j", "shift+enter"):
            event.stop()
            event.prevent_default()
            self.insert("\n")
        else:
            await super()._on_key(event)


class ChatPane(Horizontal):
    # The footer shows the first five (with the app's F1 they fit 80 columns); F1 lists them all.
    BINDINGS = [
        Binding("enter", "send", "Send the prompt", show=False),
        Binding("ctrl+j,shift+enter", "newline", "New line in the prompt", show=False),
        Binding("escape", "stop", "Stop", tooltip="Stop the answer (the partial text is kept); with "
                "an answer selected, back to the prompt"),
        Binding("ctrl+r", "regenerate", "Regenerate", tooltip="Regenerate the last answer"),
        Binding("ctrl+n", "new", "New chat"),
        Binding("ctrl+t", "app.pick_model", "Model", tooltip="Switch model (also mid-conversation)"),
        Binding("f10", "copy_answer", "Copy", tooltip="Copy the selected answer (default: the last)"),
        Binding("ctrl+l", "edit_last", "Edit last prompt", show=False),
        Binding("ctrl+b", "toggle_sidebar", "Sidebar", show=False,
                tooltip="Show or hide the conversations"),
        Binding("ctrl+f", "search", "Search chats", show=False),
        Binding("down", "into_list", "Search box: into the list", show=False),
        Binding("r", "rename", "Rename chat (list focused)", show=False),
        Binding("delete", "delete", "Delete chat (list focused)", show=False),
        Binding("f8", "settings", "Settings", show=False,
                tooltip="System prompt, temperature and max tokens of the conversation"),
        Binding("f9", "export", "Export", show=False, tooltip="Export the conversation (Markdown, JSON)"),
        Binding("ctrl+s", "copy_code", "Copy code block", show=False,
                tooltip="Copy a code block of the selected answer"),
    ]
    DEFAULT_CSS = """
    ChatPane { height: 1fr; }
    ChatPane #chat-sidebar { width: 32; border-right: solid $foreground 25%; }
    ChatPane.-no-sidebar #chat-sidebar { display: none; }
    ChatPane #chat-search { margin: 0; }
    ChatPane #chat-list { height: 1fr; border: none; padding: 0; }
    ChatPane #chat-main { width: 1fr; }
    ChatPane #chat-transcript { height: 1fr; padding: 0 1; scrollbar-gutter: stable; }
    ChatPane .chat-welcome, ChatPane .chat-earlier { color: $text-muted; margin: 1 0 0 0; }
    ChatPane #chat-note { height: auto; color: $text-muted; padding: 0 1; }
    ChatPane #chat-note.-editing { color: $text-warning; }
    ChatPane PromptArea { height: auto; min-height: 3; max-height: 10; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.conversation: Conversation | None = None
        self.settings = ChatSettings("", None, None)  # for the next new conversation
        self._worker: Worker | None = None
        self._live: AnswerBlock | None = None
        self._editing: int | None = None  # id of the prompt being edited
        self._sidebar_choice: bool | None = None  # None = automatic by width
        self._narrow: bool | None = None  # the width was below NARROW at the last resize
        self._search_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="chat-sidebar"):
            yield InOrderInput(placeholder="search (ctrl+f)", id="chat-search")
            yield OptionList(id="chat-list")
        with Vertical(id="chat-main"):
            yield VerticalScroll(id="chat-transcript")
            yield Static("", id="chat-note")
            yield PromptArea(id="chat-prompt", soft_wrap=True, show_line_numbers=False,
                             placeholder="Ask anything · Enter sends · ctrl+j new line · Esc stops")

    def on_mount(self) -> None:
        self._tick = self.set_interval(0.25, self._refresh_live, pause=True)
        self.watch(self.app, "model", self._model_changed, init=False)
        self.query_one("#chat-transcript").anchor()
        self.session_changed()
        self.call_after_refresh(self._focus_prompt)

    def _focus_prompt(self) -> None:
        """The prompt takes the focus at start, unless another pane was shown meanwhile (a key
        pressed before the first refresh): focusing a hidden pane's widget switches back to it."""
        if self.parent is not None and self.parent.display:
            self.query_one(PromptArea).focus()

    # -- app hooks -------------------------------------------------------------------------------

    def session_changed(self) -> None:
        """A new relay profile: keep the sidebar, start a fresh conversation on it."""
        self._cancel_stream()
        self.conversation = None
        self._reload_list()
        self.run_worker(self._show_transcript(), group="chat-show", exclusive=True)

    def palette_commands(self) -> Iterable[SystemCommand]:
        for name, title, help_text in _PALETTE:
            yield SystemCommand(f"Chat: {title}", help_text, getattr(self, f"action_{name}"))

    def open_conversation(self, conv_id: int) -> None:
        """Switch to a stored conversation (its model becomes the app's model)."""
        session, row = self.app.session, self.history.conversation(conv_id)
        if session is None or row is None:
            self.notify(f"conversation {conv_id} no longer exists", severity="warning")
            return
        self._cancel_stream()
        self._set_editing(None)
        self.conversation = Conversation(session.client, self.history, conv_id,
                                         profile=session.profile.name, model=row.model,
                                         system_prompt=row.system_prompt, params=row.params)
        self.app.model = row.model
        self._reload_list()
        self.run_worker(self._show_transcript(), group="chat-show", exclusive=True)
        self.query_one(PromptArea).focus()

    @property
    def history(self):
        return self.app.history

    def focus_target(self):
        """What takes the focus when the pane is shown (app.action_show_pane)."""
        return self.query_one(PromptArea)

    @property
    def streaming(self) -> bool:
        return self._worker is not None and not self._worker.is_finished

    # -- sending and streaming -------------------------------------------------------------------

    @on(PromptArea.Submitted)
    def action_send(self) -> None:
        area = self.query_one(PromptArea)
        prompt = area.text.strip()
        if not prompt:
            return
        if self.streaming:
            self.notify("an answer is still streaming: Esc stops it", severity="warning")
            return
        if self.app.session is None:
            return
        if not self.app.model and self.conversation is None:
            # nothing is sent: the prompt stays in the box for when a model is chosen
            self.notify("pick a model first (ctrl+t)", title="Chat", severity="warning")
            return
        area.clear()
        edit_from, self._editing = self._editing, None
        self._set_editing(None)
        self._worker = self._stream(prompt, edit_from)

    def action_newline(self) -> None:
        area = self.query_one(PromptArea)
        area.focus()
        area.insert("\n")

    def action_stop(self) -> None:
        if self.streaming:
            self._cancel_stream()
        elif self._editing is not None:
            self._set_editing(None)
            self.query_one(PromptArea).clear()
        elif self._answer_selected():
            self.query_one(PromptArea).focus()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """`r` and Delete act on the conversation list only when it has the focus: with an
        answer selected, they are letters typed for the prompt (on_key)."""
        if action in ("rename", "delete"):
            return self.query_one("#chat-list", OptionList).has_focus
        return True

    def _answer_selected(self) -> bool:
        focused = self.app.focused
        return focused is not None and any(isinstance(node, AnswerBlock)
                                           for node in focused.ancestors_with_self)

    def on_key(self, event) -> None:
        """With an answer selected, typing goes to the prompt (it was lost) and Enter returns
        there: the selection is for copying, and the prompt is where text belongs."""
        if not self._answer_selected() or not (event.is_printable or event.key == "enter"):
            return
        event.stop()
        event.prevent_default()
        area = self.query_one(PromptArea)
        area.focus()
        if event.is_printable and event.character:
            area.insert(event.character)

    def action_regenerate(self) -> None:
        if not self._idle_conversation():
            return
        messages = self.history.messages(self.conversation.id)
        if not messages:
            return
        if messages[-1].role == "assistant":
            self.history.truncate_conversation(self.conversation.id, from_message_id=messages[-1].id)
        self._worker = self._stream(None, None, reload=True)

    def action_edit_last(self) -> None:
        if not self._idle_conversation():
            return
        prompts = [m for m in self.history.messages(self.conversation.id) if m.role == "user"]
        if not prompts:
            return
        area = self.query_one(PromptArea)
        area.text = prompts[-1].content
        area.move_cursor(area.document.end)
        area.focus()
        self._set_editing(prompts[-1].id)

    def _idle_conversation(self) -> bool:
        if self.streaming:
            self.notify("an answer is still streaming: Esc stops it", severity="warning")
            return False
        if self.conversation is None:
            self.notify("no conversation yet: send a prompt first", severity="warning")
            return False
        return True

    @work(exclusive=True, group="chat-stream", exit_on_error=False)
    async def _stream(self, prompt: str | None, edit_from: int | None, reload: bool = False) -> None:
        """Send `prompt` (None: answer the conversation as it stands) and stream the answer."""
        block: AnswerBlock | None = None
        prompt_chars = 0
        try:
            conv = await self._conversation_for(prompt)
            if edit_from is not None:
                self.history.truncate_conversation(conv.id, from_message_id=edit_from)
            if edit_from is not None or reload:
                await self._show_transcript()
            transcript = self.query_one("#chat-transcript", VerticalScroll)
            await transcript.query(".chat-welcome").remove()
            if prompt is not None:
                await transcript.mount(UserMessage(prompt))
                self._reload_list()  # a new conversation shows in the sidebar at once
            block = AnswerBlock(conv.model)
            await transcript.mount(block)
            await self._trim()
            transcript.anchor()
            self._live = block
            prompt_chars = sum(len(m.get("content") or "") for m in conv.request_messages()) + len(
                prompt or "")  # for the cost estimate of a stopped answer
            block.begin()
            self._tick.resume()
            events = (conv.send(prompt, on_retry=block.retrying) if prompt is not None
                      else conv.answer(on_retry=block.retrying))
            done: Done | None = None
            # closed here when the worker is cancelled (Esc, quitting), so the answer is saved as
            # stopped now; left to the loop's shutdown, it ran after the history had closed
            async with aclosing(events):
                async for event in events:
                    if isinstance(event, Delta):
                        block.append(event.text)
                    elif isinstance(event, Reasoning):
                        block.add_reasoning(event.text)
                    elif isinstance(event, Done):
                        done = event
            block.done(done, conv.model)
        except RelayError as exc:
            if block is None:
                self.notify(str(exc), title="Chat", severity="error")
            else:
                block.failed(str(exc))
        except HistoryError as exc:  # a full or read-only disk: the prompt must not be lost
            self._unsaved(exc, prompt, block)
        except asyncio.CancelledError:
            if block is not None:
                live = self.conversation.metrics if self.conversation is not None else None
                served = live.served_model if live else None
                block.stopped(cost=self._estimate(block, prompt_chars, served),
                              ttft=live.ttft if live else None, served_model=served)
            raise
        finally:
            self._live = None
            self._tick.pause()
            self._reload_list()

    def _unsaved(self, exc: HistoryError, prompt: str | None, block: AnswerBlock | None) -> None:
        """The history could not be written: say so in one line, and put the prompt back in the
        box (unless the user has typed a new one) so it can be sent again or copied."""
        line = f"could not save to the history: {exc} — check that the disk has room and is writable"
        area = self.query_one(PromptArea)
        if prompt is not None and not area.text.strip():
            area.text = prompt
            area.move_cursor(area.document.end)
            line += "; your prompt is back in the box"
        if block is not None:
            block.failed(line)
        self.notify(line, title="Chat", severity="error", timeout=30)

    def _estimate(self, block: AnswerBlock, prompt_chars: int, served: str | None) -> Cost | None:
        """A stopped answer's cost from the list prices of the model that answered (`auto`
        has none), its tokens estimated from characters."""
        from relay_tui.core.events import Usage
        from relay_tui.core.pricing import cost_for

        session = self.app.session
        if session is None or not block.chars:
            return None
        usage = Usage(prompt_tokens=estimate_tokens(prompt_chars),
                      completion_tokens=estimate_tokens(block.chars))
        return cost_for(session.profile, served or block.model, usage)

    async def _conversation_for(self, prompt: str | None) -> Conversation:
        """The current conversation on the app's model, started with this prompt if there is none."""
        session = self.app.session
        model = self.app.model or (self.conversation.model if self.conversation else None)
        if not model:
            raise RelayError("pick a model first (ctrl+t)")
        conv = self.conversation
        if conv is None:
            title = (prompt or "conversation").strip().splitlines()[0]
            conv = self.conversation = Conversation.start(
                session.client, self.history, profile=session.profile.name, model=model,
                title=title, system_prompt=self.settings.system_prompt or None,
                params=self.settings.params)
        elif conv.model != model:
            self._model_changed(model)
        return conv

    def _refresh_live(self) -> None:
        if self._live is not None:
            self._live.refresh_live()

    def _cancel_stream(self) -> None:
        if self.streaming:
            self._worker.cancel()

    def _model_changed(self, model: str | None) -> None:
        """ctrl+t mid-conversation: the conversation's next answers come from the new model."""
        conv = self.conversation
        if conv is not None and model and model != conv.model:
            conv.model = model
            self.history.update_conversation(conv.id, model=model)
            self._note(f"next answers from {model}")

    # -- transcript ------------------------------------------------------------------------------

    async def _show_transcript(self) -> None:
        """Rebuild the transcript from the history (the last OPEN_MOUNTED messages)."""
        transcript = self.query_one("#chat-transcript", VerticalScroll)
        await transcript.remove_children()
        conv = self.conversation
        messages = self.history.messages(conv.id, last=OPEN_MOUNTED) if conv else []
        hidden = self.history.message_count(conv.id) - len(messages) if conv else 0
        widgets: list = []
        if not messages:
            widgets.append(Static(WELCOME, classes="chat-welcome"))
        elif hidden:
            widgets.append(_earlier(hidden))
        answers = []
        for row in messages:
            if row.role == "user":
                widgets.append(UserMessage(row.content))
            else:
                block = AnswerBlock(row.model or "?", row.content, row.reasoning)
                answers.append((block, row))
                widgets.append(block)
        await transcript.mount_all(widgets)
        for block, row in answers:
            if row.state == "done":
                block.done(stored_done(row), row.model)
            elif row.state == "error":
                block.failed(row.error or "failed")
            elif row.state == "streaming":
                block.stopped("still streaming in another relay-tui window")
            else:
                block.stopped(row.state)
        transcript.scroll_end(animate=False, immediate=True)
        transcript.anchor()

    async def _trim(self) -> None:
        """Unmount the oldest messages beyond MAX_MOUNTED (they stay in the history)."""
        transcript = self.query_one("#chat-transcript", VerticalScroll)
        shown = [w for w in transcript.children if isinstance(w, (UserMessage, AnswerBlock))]
        extra = len(shown) - MAX_MOUNTED
        if extra <= 0:
            return
        hidden = self.history.message_count(self.conversation.id) - MAX_MOUNTED
        await transcript.query(".chat-earlier").remove()
        await transcript.remove_children(shown[:extra])
        await transcript.mount(_earlier(hidden), before=0)

    def _last_answer(self) -> AnswerBlock | None:
        blocks = self.query(AnswerBlock)
        return blocks.last() if blocks else None

    def _selected_answer(self) -> tuple[AnswerBlock | None, str]:
        """The answer copying acts on: the selected (focused) one, else the last; and which."""
        focused = self.app.focused
        for node in focused.ancestors_with_self if focused is not None else ():
            if isinstance(node, AnswerBlock):
                return node, "selected" if node is not self._last_answer() else "last"
        return self._last_answer(), "last"

    def _note(self, text: str) -> None:
        self.query_one("#chat-note", Static).update(Text(text))

    def _set_editing(self, message_id: int | None) -> None:
        self._editing = message_id
        note = self.query_one("#chat-note", Static)
        note.set_class(message_id is not None, "-editing")
        self._note("editing your last prompt: Enter resends it and replaces the answers after it "
                   "· Esc cancels" if message_id is not None else "")

    # -- sidebar ---------------------------------------------------------------------------------

    def _reload_list(self) -> None:
        options = self.query_one("#chat-list", OptionList)
        query = self.query_one("#chat-search", Input).value.strip()
        rows = self.history.conversations(query=query or None)
        new = []
        for row in rows:
            title = neutralise(row.title).replace("\n", " ")
            label = Text(title if len(title) <= 28 else title[:27] + "…")
            label.append("\n" + neutralise(row.model), style="dim")
            new.append(Option(label, id=str(row.id)))
        options.clear_options()
        options.add_options(new)  # in one go: one at a time took ~100 ms for 200 conversations
        if options.option_count:
            options.highlighted = 0
        if self.conversation is not None:
            try:
                options.highlighted = options.get_option_index(str(self.conversation.id))
            except OptionDoesNotExist:  # filtered out by the search
                pass

    @on(Input.Changed, "#chat-search")
    def _search_changed(self) -> None:
        """Search once typing pauses, not per keystroke: each search rebuilds the list on the
        UI loop, which a fast typist's keys would wait behind."""
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, self._reload_list)

    @on(Input.Submitted, "#chat-search")
    def _search_submitted(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
            self._reload_list()
        self.query_one("#chat-list", OptionList).focus()

    def action_into_list(self) -> None:
        """Down in the search box goes to the conversations found (as Enter does); the other
        widgets of the pane bind down themselves, so this runs only from the search box."""
        if self.query_one("#chat-search", Input).has_focus:
            self._search_submitted()

    @on(OptionList.OptionSelected, "#chat-list")
    def _list_selected(self, event: OptionList.OptionSelected) -> None:
        self.open_conversation(int(event.option.id))

    def _target_id(self) -> int | None:
        """The conversation a sidebar action means: the highlighted one if the list has focus."""
        options = self.query_one("#chat-list", OptionList)
        if options.has_focus and options.highlighted is not None:
            return int(options.get_option_at_index(options.highlighted).id)
        return self.conversation.id if self.conversation else None

    def action_toggle_sidebar(self) -> None:
        self._sidebar_choice = self.has_class("-no-sidebar")
        self.set_class(not self._sidebar_choice, "-no-sidebar")
        if not self._sidebar_choice and self.query_one("#chat-sidebar").has_focus_within:
            self.query_one(PromptArea).focus()

    def on_resize(self) -> None:
        """Below NARROW the sidebar hides; crossing NARROW either way forgets an earlier ctrl+b
        (shown at 160 columns, it took 31 of 80)."""
        narrow = self.size.width < NARROW
        if narrow != self._narrow:
            self._narrow, self._sidebar_choice = narrow, None
        if self._sidebar_choice is None:
            self.set_class(narrow, "-no-sidebar")

    def action_search(self) -> None:
        self._sidebar_choice = True
        self.remove_class("-no-sidebar")
        self.query_one("#chat-search", Input).focus()

    def action_rename(self) -> None:
        conv_id = self._target_id()
        row = self.history.conversation(conv_id) if conv_id else None
        if row is None:
            return

        def renamed(title: str | None) -> None:
            if title:
                self.history.rename_conversation(row.id, title[:80])
                self._reload_list()

        self.app.push_screen(TextPrompt("Rename conversation", row.title), renamed)

    def action_delete(self) -> None:
        conv_id = self._target_id()
        row = self.history.conversation(conv_id) if conv_id else None
        if row is None:
            return
        count = len(self.history.messages(row.id))

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            if self.conversation is not None and self.conversation.id == row.id:
                self._cancel_stream()
                self.conversation = None
                self.run_worker(self._show_transcript(), group="chat-show", exclusive=True)
            self.history.delete_conversation(row.id)
            self._reload_list()
            self.notify(f"deleted “{neutralise(row.title)}”")

        self.app.push_screen(Confirm(f"Delete “{neutralise(row.title)}” and its {count} messages?"),
                             answered)

    def action_new(self) -> None:
        if self.streaming:
            self.notify("an answer is still streaming: Esc stops it", severity="warning")
            return
        self.conversation = None
        self._set_editing(None)
        self._reload_list()
        self.run_worker(self._show_transcript(), group="chat-show", exclusive=True)
        self.query_one(PromptArea).focus()

    # -- settings, export, copy ------------------------------------------------------------------

    def action_settings(self) -> None:
        conv = self.conversation
        current = self.settings if conv is None else ChatSettings(
            conv.system_prompt or "", conv.params.get("temperature"), conv.params.get("max_tokens"))

        def saved(settings: ChatSettings | None) -> None:
            if settings is None:
                return
            if self.conversation is None:
                self.settings = settings
            else:
                self.conversation.system_prompt = settings.system_prompt or None
                self.conversation.params = settings.params
                self.history.update_conversation(self.conversation.id,
                                                 system_prompt=settings.system_prompt,
                                                 params=settings.params)
            self.notify("settings saved" + (" for this conversation" if self.conversation else
                                            " for the next conversation"))

        self.app.push_screen(SettingsForm(current), saved)

    def action_export(self, fmt: str = "") -> None:
        if self.conversation is None:
            self.notify("nothing to export yet", severity="warning")
            return
        try:
            paths = [export_conversation(self.history, self.conversation.id, f)
                     for f in ([fmt] if fmt else ["md", "json"])]
        except ExportError as exc:
            self.notify(str(exc), title="Export", severity="error")
            return
        self.notify(fold_paths(paths, toast_width(self.app.size.width)), title="Exported", timeout=8)

    def action_copy_answer(self) -> None:
        block, which = self._selected_answer()
        if block is None or not block.text:
            self.notify("no answer to copy yet", severity="warning")
            return
        self.app.copy_to_clipboard(neutralise(block.text))
        self.notify(f"copied the {which} answer ({len(block.text):,} characters)")

    def action_copy_code(self) -> None:
        block, which = self._selected_answer()
        blocks = code_blocks(block.text) if block is not None else []
        if not blocks:
            self.notify(f"the {which} answer has no code block", severity="warning")
            return
        if len(blocks) == 1:
            self._copy_block(blocks[0], 1)
            return

        def chosen(number: str | None) -> None:
            if number:
                self._copy_block(blocks[int(number) - 1], int(number))

        self.app.push_screen(CodeBlockPicker(blocks), chosen)

    def _copy_block(self, block, number: int) -> None:
        self.app.copy_to_clipboard(neutralise(block.code))
        self.notify(f"copied code block {number} ({block.lang or 'text'}, "
                    f"{len(block.code.splitlines())} lines)")


def _earlier(count: int) -> Static:
    return Static(f"… {count} earlier messages are in the history (F9 exports them all)",
                  classes="chat-earlier")


_PALETTE = (
    ("send", "send the prompt", "Send what is in the prompt box (Enter)"),
    ("stop", "stop the answer", "Stop the streaming answer, keeping the partial text (Esc)"),
    ("regenerate", "regenerate the last answer", "Ask again for the last answer (ctrl+r)"),
    ("edit_last", "edit and resend the last prompt", "Put the last prompt back in the box (ctrl+l)"),
    ("new", "new conversation", "Start an empty conversation (ctrl+n)"),
    ("toggle_sidebar", "show/hide conversations", "The sidebar of past conversations (ctrl+b)"),
    ("search", "search conversations", "Full-text search over titles and messages (ctrl+f)"),
    ("rename", "rename the conversation", "Give the conversation a new title (r)"),
    ("delete", "delete the conversation", "Delete it and its messages, after asking (Delete)"),
    ("settings", "system prompt and parameters", "System prompt, temperature, max tokens (F8)"),
    ("export", "export as Markdown and JSON", "Write both files to the exports folder (F9)"),
    ("copy_answer", "copy the answer", "Copy the selected answer (else the last) to the clipboard (F10)"),
    ("copy_code", "copy a code block", "Pick a code block of the selected (else the last) answer (ctrl+s)"),
)
