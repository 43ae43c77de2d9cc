"""Profile and model pickers: a search box over a list, filtered with Textual's fuzzy matcher.

Also the text box every form of ours uses (`InOrderInput`): keys typed in a fast burst keep
their order there (see `keys_in_order`).
"""

from __future__ import annotations

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from relay_tui.core.errors import RelayError
from relay_tui.core.sanitize import neutralise_id


async def keys_in_order(widget, event: events.Key, handled_here: bool) -> bool:
    """Act on a key in the order it was typed; True when done (the caller does nothing more).

    Textual hands every key to the focused widget's queue, but a key the widget does not take
    itself (backspace, tab, ctrl+u…) then bubbles through every ancestor's queue to the app,
    which only there runs the binding. Characters typed after it go straight to the widget, so
    in a burst they overtake it: "hello world", 11 × backspace, "jitter" ended as "hello "
    (stock Textual too; our deep panes, whose queues also carry a search per keystroke, made it
    common), and after a tab the next characters still went to the field that was left. Here
    the binding runs at once, from the widget's own queue, and a key that reaches a widget after
    an earlier key of the burst moved the focus goes on to the focused widget.
    """
    app = widget.app
    focused = app.focused
    if focused is not None and focused is not widget:
        event.stop()
        event.prevent_default()
        key = events.Key(event.key, event.character)
        key._set_forwarded()  # as the app's own forwarding marks it (else the app would forward it again)
        focused.post_message(key)
        return True
    if not handled_here and await app._check_bindings(event.key):  # what the app does once it bubbled up
        event.stop()
        event.prevent_default()
        return True
    return False


class FormScroll(VerticalScroll, can_focus=False):
    """A form's scrolling box: not a stop of its own for tab (its fields scroll into view)."""


class InOrderInput(Input):
    """An Input whose editing keys, tab and the rest act in the order they were typed."""

    async def _on_key(self, event: events.Key) -> None:
        if not await keys_in_order(self, event, handled_here=event.is_printable):
            await super()._on_key(event)

    def _on_blur(self, event: events.Blur) -> None:
        """Left, a field shows the start of its value (a long list of models showed its tail)."""
        super()._on_blur(event)
        self.scroll_to(x=0, animate=False, immediate=True)


MAX_SHOWN = 1000     # options a list holds at once: a relay listing 200,000 models froze ctrl+t 14 s
FUZZY_ITEMS = 5000   # past this many items a query matches as a substring (fuzzy: 8 s a key at 200,000)


def fuzzy_filter(query: str, items: list[str], limit: int = MAX_SHOWN) -> list[str]:
    """Items matching `query`, best first; all of them, in order, for an empty query; at most
    `limit` (a long list is narrowed by typing, never drawn whole)."""
    if not query.strip():
        return list(items[:limit])
    if len(items) > FUZZY_ITEMS:
        needle = query.strip().lower()
        return [item for item in items if needle in item.lower()][:limit]
    matcher = Matcher(query)
    scored = [(matcher.match(item), item) for item in items]
    return [item for score, item in sorted(scored, key=lambda s: -s[0]) if score > 0][:limit]


def _plain(label: str | Text) -> Text:
    """A label as plain, inert text: model ids and profile names (from relays, config.toml) are
    never Textual markup, and never drive the terminal."""
    return Text(neutralise_id(label)) if isinstance(label, str) else label


def move_highlight(options: OptionList, step: int) -> None:
    """Up/down from a search box: move the list's highlight, stopping at either end."""
    if options.option_count:
        current = options.highlighted or 0
        options.highlighted = max(0, min(options.option_count - 1, current + step))


class FuzzyPicker(ModalScreen):
    """Type to filter, up/down to move, Enter to choose, Esc to cancel."""

    BINDINGS = [Binding("escape", "dismiss", "Cancel"),
                Binding("down", "move(1)", show=False), Binding("up", "move(-1)", show=False)]
    DEFAULT_CSS = """
    FuzzyPicker { align: center middle; }
    FuzzyPicker > Vertical {
        width: 64; max-width: 95%; height: auto; max-height: 80%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    FuzzyPicker OptionList { height: auto; max-height: 20; border: none; }
    FuzzyPicker .picker-note { color: $text-muted; width: 1fr; height: auto; }
    """

    def __init__(self, title: str, placeholder: str):
        super().__init__()
        self.title_text = title
        self.placeholder = placeholder
        self.items: list[str] = []
        self.note = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="picker-title")
            yield InOrderInput(placeholder=self.placeholder, id="picker-query")
            yield OptionList(id="picker-options")
            yield Static("", classes="picker-note", id="picker-note")  # wraps: never cut off

    def set_items(self, items: list[str], note: str = "") -> None:
        self.items = items
        self.note = note
        self._refilter()

    def show_note(self, note: str) -> None:
        self.query_one("#picker-note", Static).update(Text(note))  # relay text: never markup

    def note_for(self, shown: int) -> str:
        """The line under the list when `shown` of the items match the query."""
        return self.note

    def label_for(self, item: str) -> str | Text:
        return item

    @on(Input.Changed, "#picker-query")
    def _refilter(self) -> None:
        options = self.query_one("#picker-options", OptionList)
        options.clear_options()
        query = self.query_one("#picker-query", Input).value
        shown = fuzzy_filter(query, self.items)
        options.add_options(Option(_plain(self.label_for(item)), id=item) for item in shown)
        if options.option_count:
            options.highlighted = 0
        self.show_note(self.note_for(len(shown)))

    def action_move(self, step: int) -> None:
        move_highlight(self.query_one("#picker-options", OptionList), step)

    @on(Input.Submitted, "#picker-query")
    def _submit_query(self) -> None:
        options = self.query_one("#picker-options", OptionList)
        if options.highlighted is not None and options.option_count:
            self.choose(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#picker-options")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(event.option.id)

    def choose(self, item: str) -> None:
        self.dismiss(item)


class ModelPicker(FuzzyPicker):
    def __init__(self, session, current: str | None):
        super().__init__("Model", "type to search the relay's models")
        self.session = session
        self.current = current

    def on_mount(self) -> None:
        self.show_note("loading /v1/models …")
        self.load()

    @work(exclusive=True)
    async def load(self) -> None:
        try:
            models = [m.id for m in await self.session.models()]
        except RelayError as exc:
            self.set_items([], f"could not list models: {exc}")
            return
        self.loaded = True
        self.set_items(models)

    loaded = False

    def note_for(self, shown: int) -> str:
        if not self.loaded:
            return self.note
        total = len(self.items)
        count = f"{total} models" if shown == total else f"{shown} of {total:,} models"
        if shown == MAX_SHOWN < total:
            count = f"the first {shown:,} of {total:,} models: type to narrow"
        return f"{count} · current: {self.current or 'none'}"

    def label_for(self, item: str) -> str:
        return f"{item}  (current)" if item == self.current else item


DEMO_CHOICE = "demo relay (built in, no key)"
ADD_CHOICE = "+ add a profile…"


class ProfilePicker(FuzzyPicker):
    """Choose a configured profile or the demo relay; dismisses with a ready Session."""

    def __init__(self, history, current):
        super().__init__("Profile", "type to search profiles")
        self.history = history
        self.current = current

    def on_mount(self) -> None:
        from relay_tui.store.config import ConfigError, load_settings

        try:
            settings = load_settings()
            profiles = list(settings.profiles)
        except ConfigError as exc:
            self.set_items([DEMO_CHOICE], str(exc))
            return
        self.active = settings.effective_profile
        self.set_items(profiles + [DEMO_CHOICE, ADD_CHOICE],
                       "Enter switches and makes it active · the last adds one")

    def label_for(self, item: str) -> str:
        marks = [word for word, on in (
            ("current", self.current is not None and item == self.current.profile.name),
            ("active", item == getattr(self, "active", None))) if on]
        return f"{item}  ({', '.join(marks)})" if marks else item

    def choose(self, item: str) -> None:
        from relay_tui.core.session import demo_session, open_session
        from relay_tui.core.target import SetupError
        from relay_tui.store.config import ConfigError, set_active_profile
        from relay_tui.store.keys import KeyringUnavailable

        if item == ADD_CHOICE:
            from relay_tui.ui.first_run import FirstRunScreen

            self.app.push_screen(FirstRunScreen(adding=True), self._added)
            return
        try:
            if item == DEMO_CHOICE:
                session = demo_session(self.history)
            else:
                session = open_session(self.history, profile_name=item)
                if item != self.active:  # as `relay-tui profiles use`: the next start opens it too
                    set_active_profile(item)
                    self.app.notify(f"{item} is now the active profile", title="Profile")
        except (SetupError, ConfigError, KeyringUnavailable) as exc:
            self.show_note(str(exc))
            return
        self.dismiss(session)

    def _added(self, session) -> None:
        if session is not None:
            self.dismiss(session)
