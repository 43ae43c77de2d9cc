"""The Textual app: four panes over one core Session, a status line, palette and pickers.

`make_app(options)` builds exactly what `relay-tui` runs, so tests, the screenshot command and
the benchmarks construct the same app a user gets.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
from collections.abc import Iterable
from functools import partial
from dataclasses import dataclass

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from relay_tui.core import telemetry
from relay_tui.core.netloop import SWITCH_INTERVAL
from relay_tui.core.sanitize import neutralise
from relay_tui.core.session import Session, demo_session, open_session
from relay_tui.core.target import SetupError
from relay_tui.store.config import Settings, load_settings, set_ui_value
from relay_tui.store.history import History
from relay_tui.store.keys import KeyringUnavailable
from relay_tui.ui import themes
from relay_tui.ui.chat_pane import ChatPane
from relay_tui.ui.quota_pane import QuotaPane
from relay_tui.ui.status_bar import StatusBar

PANES = (("chat", "Chat", "f2"), ("compare", "Compare", "f3"), ("quota", "Quota", "f4"),
         ("latency", "Latency", "f5"))
LAZY_PANES = {"compare": ("relay_tui.ui.compare_pane", "ComparePane"),
              "latency": ("relay_tui.ui.latency_pane", "LatencyPane")}
"""Imported and mounted when first shown (or the palette opens): the first screen does not need
them, and they were a third of the time to the first frame (DESIGN-NOTES, "Performance"). The
quota pane stays eager: it raises quota alerts from chat requests while hidden."""


def _tab_title(pane: str) -> str:
    """A tab's label with the key that shows it: "Chat (F2)"."""
    title, key = next((title, key) for name, title, key in PANES if name == pane)
    return f"{title} ({key.upper()})"


@dataclass
class AppOptions:
    profile: str | None = None
    base_url: str | None = None
    demo: bool = False


class RelayApp(App):
    TITLE = "relay-tui"
    CSS_PATH = "ui/app.tcss"
    # The footer shows only F1 (which lists every key) beside the pane's own few, so it fits 80
    # columns; the pane keys are on the tabs. Everything else is show=False, in F1 and the palette.
    BINDINGS = [
        Binding("f1", "help", "Help", tooltip="This help: every key of the app and its panes"),
        # priority: the prompt box (TextArea) has F-key bindings of its own that would win
        *(Binding(key, f"show_pane('{pane}')", title, priority=True, show=False,
                  tooltip=f"Show the {title} pane") for pane, title, key in PANES),
        Binding("ctrl+o", "pick_profile", "Profile", show=False,
                tooltip="Switch relay profile (or the demo relay), or add one"),
        Binding("ctrl+t", "pick_model", "Model", show=False,
                tooltip="Switch model (fuzzy search over /v1/models)"),
        Binding("ctrl+q", "quit", "Quit", priority=True, show=False, tooltip="Quit relay-tui"),
    ]

    model: reactive[str | None] = reactive(None)

    def __init__(self, settings: Settings, history: History, session: Session | None,
                 setup_problem: str | None = None):
        super().__init__()
        self.settings = settings
        self.history = history
        self.session = session
        self.setup_problem = setup_problem
        self._mounts: dict = {}  # lazy pane -> its AwaitMount
        self.theme_problems = themes.register_all(self)
        self._run_theme: str | None = themes.initial_theme(self, settings.theme)
        self.theme = self._run_theme
        if session is not None:
            self.set_reactive(RelayApp.model, session.default_model)

    def compose(self) -> ComposeResult:
        self._warn_plain_http(self.session)  # before the panes mount: their first requests carry the key
        with TabbedContent(id="panes", initial="chat"):
            with TabPane(_tab_title("chat"), id="chat"):
                yield ChatPane()
            yield TabPane(_tab_title("compare"), id="compare")
            with TabPane(_tab_title("quota"), id="quota"):
                yield QuotaPane()
            yield TabPane(_tab_title("latency"), id="latency")
        yield StatusBar()
        yield Footer()

    def notify(self, message: str, *, title: str = "", severity="information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification is plain, neutralised text (`markup` is ignored): they carry relay
        messages and file names, where Textual markup would be run (a link) or, malformed like
        "[/v1]", crash the app. Widget.notify always passes markup=True, hence no opt-in."""
        super().notify(neutralise(message), title=title, severity=severity, timeout=timeout, markup=False)

    def _handle_exception(self, error: Exception) -> None:
        """The last resort (Textual calls it for any unhandled exception, then exits): instead of
        Textual's traceback, which prints every frame's local variables (a header dict holding
        the key, a proxy URL with its password), one line on the terminal and a redacted report
        file without locals (core.crash)."""
        from rich.text import Text
        from textual.worker import WorkerFailed

        from relay_tui.core import crash

        original = error.error if isinstance(error, WorkerFailed) else error
        self._return_code = crash.EXIT_CRASH
        if self._exception is None:  # run_test() re-raises it for the test that provoked it
            self._exception = error
            self._exception_event.set()
        self.panic(Text(crash.handle(original)))

    def on_mount(self) -> None:
        problems = themes.summary(self.theme_problems, self.settings.theme, self.theme)
        if problems:  # one toast for all of them (one each stacked over half the screen)
            self.notify(problems, title="Themes", severity="warning", timeout=15)
        if self.session is None:
            from relay_tui.ui.first_run import FirstRunScreen

            self.push_screen(FirstRunScreen(self.setup_problem), self._first_run_done)
        else:
            self.refresh_status()
        self.set_timer(0.5, _warm_up_rendering)
        telemetry.start(self.settings.telemetry, report=self._telemetry_problem)

    def _telemetry_problem(self, line: str) -> None:
        """One notice when telemetry cannot run or the collector does not take the spans
        (called from telemetry's export thread, or from on_mount)."""
        notify = partial(self.notify, line, title="Telemetry", severity="warning", timeout=15)
        if threading.get_ident() == self._thread_id:
            notify()
            return
        try:
            self.call_from_thread(notify)
        except RuntimeError:   # the app is closing: nobody to tell
            pass

    # -- session --------------------------------------------------------------------------------

    def _first_run_done(self, session: Session | None) -> None:
        if session is None:
            self.exit()
            return
        self.use_session(session)

    def use_session(self, session: Session) -> None:
        """Switch every pane to another relay profile."""
        old, self.session = self.session, session
        if old is not None and old is not session:
            self.run_worker(old.aclose(), group="close-session")
        self.model = session.default_model
        self.refresh_status()
        self._warn_plain_http(session)
        for pane in self.query("ChatPane, ComparePane, QuotaPane, LatencyPane"):
            pane.session_changed()

    def _warn_plain_http(self, session: Session | None) -> None:
        """Say that the key will cross the network unencrypted, before any request sends it."""
        for warning in session.target.warnings if session is not None else ():
            self.notify(warning, title="Plain HTTP", severity="warning", timeout=30, markup=False)

    def refresh_status(self) -> None:
        self.query_one(StatusBar).show(self.session, self.model)

    def watch_model(self) -> None:
        self.refresh_status()

    # -- actions --------------------------------------------------------------------------------

    def _mount_pane(self, pane: str) -> bool:
        """Mount a lazy pane if it is not yet; True if it was just mounted."""
        holder = self.query_one(f"TabPane#{pane}")
        if pane not in LAZY_PANES or holder.children:
            return False
        module, name = LAZY_PANES[pane]
        self._mounts[pane] = holder.mount(getattr(importlib.import_module(module), name)())
        return True

    def _lazy_commands(self, pane: str) -> Iterable[SystemCommand]:
        """A lazy pane's palette entries before it is mounted: choosing one mounts it first."""
        module, name = LAZY_PANES[pane]
        for command in getattr(importlib.import_module(module), name)().palette_commands():
            yield command._replace(callback=partial(self._run_lazy_command, pane, command.title))

    async def _run_lazy_command(self, pane: str, title: str) -> None:
        self._mount_pane(pane)
        await self._mounts[pane]
        for command in self.query_one(f"TabPane#{pane}").children[0].palette_commands():
            if command.title == title:
                result = command.callback()
                if inspect.isawaitable(result):
                    await result

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._mount_pane(event.pane.id)  # a tab clicked with the mouse

    def action_show_pane(self, pane: str) -> None:
        if self._mount_pane(pane):  # not composed yet: it takes the focus when shown (on_show)
            self.screen.set_focus(None)  # else the hidden pane's focus would switch back to it
            self.query_one("#panes", TabbedContent).active = pane
            return
        self.query_one("#panes", TabbedContent).active = pane
        # A pane that names its focus target gets the focus now, before the old pane's focused
        # widget is hidden (Textual would move that focus to a hidden sibling, and back).
        for widget in self.query_one(f"TabPane#{pane}").children:
            if hasattr(widget, "focus_target"):
                self.screen.set_focus(widget.focus_target())

    def action_help(self) -> None:
        from relay_tui.ui.help_screen import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_pick_model(self) -> None:
        from relay_tui.ui.pickers import ModelPicker

        if self.session is None:
            return

        def chosen(model: str | None) -> None:
            if model:
                self.model = model

        self.push_screen(ModelPicker(self.session, self.model), chosen)

    def action_pick_profile(self) -> None:
        from relay_tui.ui.pickers import ProfilePicker

        def chosen(session: Session | None) -> None:
            if session is not None:
                self.use_session(session)

        self.push_screen(ProfilePicker(self.history, self.session), chosen)

    def action_add_profile(self) -> None:
        from relay_tui.ui.first_run import FirstRunScreen

        def added(session: Session | None) -> None:
            if session is not None:
                self.use_session(session)

        self.push_screen(FirstRunScreen(adding=True), added)

    def watch_theme(self, theme: str) -> None:
        """Remember a theme the user picks; never the one this run started with (a fallback for a
        broken theme file would overwrite the user's choice in config.toml)."""
        if not self.is_mounted or theme == self._run_theme:
            return
        self._run_theme = None  # from now on every change is the user's
        if theme != self.settings.theme:
            self.settings.theme = theme
            set_ui_value("theme", theme)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for pane, title, key in PANES:
            yield SystemCommand(f"Go to {title}", f"Show the {title} pane ({key.upper()})",
                                lambda pane=pane: self.action_show_pane(pane))
        yield SystemCommand("Help", "Every key binding (F1)", self.action_help)
        yield SystemCommand("Switch model", "Pick a model from the relay (ctrl+t)", self.action_pick_model)
        yield SystemCommand("Switch profile", "Pick a relay profile or the demo relay (ctrl+o)",
                            self.action_pick_profile)
        yield SystemCommand("Add profile", "A new relay profile: base URL and key (into the keyring)",
                            self.action_add_profile)
        for pane in LAZY_PANES:
            if not self.query_one(f"TabPane#{pane}").children:
                yield from self._lazy_commands(pane)
        for pane in self.query("ChatPane, ComparePane, QuotaPane, LatencyPane"):
            yield from pane.palette_commands()

    async def on_unmount(self) -> None:
        # Stop answers still streaming first: they record themselves as "stopped" in the
        # history, which must still be open for that.
        import asyncio

        workers = list(self.workers)
        self.workers.cancel_all()
        await asyncio.gather(*(worker.wait() for worker in workers), return_exceptions=True)
        if self.session is not None:
            await self.session.aclose()
        self.history.close()
        telemetry.stop()


def _warm_up_rendering() -> None:
    """Once the first screen is up: import the markdown renderer (markdown-it, Rich's Markdown,
    Pygments: ~40 ms) and freeze the start-up heap out of garbage collection (a full collection
    of it took 55-70 ms, twice, while a conversation opened), so neither the first frame nor
    the first answer or opened conversation waits for them."""
    import relay_tui.ui.markdown_blocks  # noqa: F401
    from relay_tui.ui.frame_clock import tune_collector

    tune_collector()


def make_app(options: AppOptions | None = None, *, settings: Settings | None = None) -> RelayApp:
    """Build the app for these options: the profile's relay, the demo relay, or the first-run form."""
    options = options or AppOptions()
    # Relay I/O runs on a network thread (core/netloop.py): a shorter GIL switch interval lets it
    # take a chunk within ~1 ms while a frame renders, not 5 ms (DESIGN-NOTES, "Network thread").
    sys.setswitchinterval(SWITCH_INTERVAL)
    settings = settings if settings is not None else load_settings()
    history = History()
    session, problem = None, None
    try:
        if options.demo:
            session = demo_session(history)
        elif options.profile or options.base_url or settings.profiles:
            session = open_session(history, profile_name=options.profile,
                                   base_url=options.base_url)
    except SetupError as exc:
        problem = str(exc)
    except KeyringUnavailable as exc:  # the profile's key would come from a keyring there is not
        name = options.profile or settings.active_profile
        problem = f"profile {name!r} cannot get its key: {exc}" if name else str(exc)
    return RelayApp(settings, history, session, problem)
