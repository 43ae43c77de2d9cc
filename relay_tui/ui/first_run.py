"""First run: no profile yet. Offer the demo relay, or a form that adds a profile and its key.

The same form adds a profile later (`adding=True`: from the profile picker or the palette); it
then offers no demo relay and cancels instead of quitting.

The key typed here goes straight into the OS keyring (store.keys); it is never written to the
config file. Without a keyring backend the form says so and names the environment variable.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static

from relay_tui.ui.pickers import FormScroll, InOrderInput

FIELDS = (("profile-name", "Profile name", "e.g. work", False),
          ("base-url", "Base URL", "e.g. https://relay.example.com/v1", False),
          ("default-model", "Default model", "optional, e.g. gpt-4.1", False),
          ("api-key", "API key", "stored in the OS keyring, never in a file", True))


class FirstRunScreen(Screen):
    """Dismisses with a Session, or None when the user quits (or, adding, cancels)."""

    AUTO_FOCUS = "#profile-name"
    BINDINGS = [Binding("ctrl+q", "quit_app", "Quit", priority=True),
                # priority: a focused Input has ctrl+d (delete right) of its own
                Binding("ctrl+d", "use_demo", "Use the demo relay", priority=True),
                Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    FirstRunScreen { align: center middle; }
    FirstRunScreen > FormScroll {
        width: 76; max-width: 98%; height: auto; max-height: 100%;
        border: round $primary; border-title-style: bold; background: $surface; padding: 0 1;
        scrollbar-gutter: stable;
    }
    FirstRunScreen #first-run-intro { margin: 1 0 0 0; }
    FirstRunScreen #first-run-reason { color: $text-error; margin: 1 0 0 0; }
    FirstRunScreen #use-demo { margin: 1 0 0 0; }
    FirstRunScreen Grid {
        grid-size: 2; grid-columns: 15 1fr; grid-gutter: 1 0; height: auto; margin: 1 0 0 0;
    }
    FirstRunScreen Grid Label { color: $text-muted; }
    FirstRunScreen Input { background: $panel; }
    FirstRunScreen Input:focus { background: $boost; background-tint: $primary 25%; }
    FirstRunScreen #first-run-problem { color: $text-error; margin: 1 0 0 0; }
    FirstRunScreen #first-run-buttons { height: auto; margin: 1 0 0 0; }
    FirstRunScreen #first-run-buttons Button { margin-right: 2; }
    """

    def __init__(self, problem: str | None = None, *, adding: bool = False):
        super().__init__()
        self.problem = problem
        self.adding = adding

    def compose(self) -> ComposeResult:
        with FormScroll() as form:
            if self.adding:
                form.border_title = "Add a relay profile"
                yield Static("Its key goes into the OS keyring; the profile into config.toml. Esc "
                             "cancels.", id="first-run-intro")
            else:
                form.border_title = "Welcome to relay-tui"
                yield Static("Try everything on the built-in demo relay (no account, no key), or "
                             "add your relay below.", id="first-run-intro")
            reason = Static(Text(self.problem or ""), id="first-run-reason")
            reason.display = bool(self.problem)
            yield reason
            if not self.adding:
                yield Button("Use the demo relay  (ctrl+d)", id="use-demo", variant="primary")
            with Grid():
                for field_id, label, placeholder, secret in FIELDS:
                    yield Label(label)
                    yield InOrderInput(placeholder=placeholder, password=secret, id=field_id,
                                       compact=True)
            problem = Static("", id="first-run-problem")
            problem.display = False
            yield problem
            with Horizontal(id="first-run-buttons"):
                yield Button("Add profile", id="add-profile")
                yield Button("Cancel (Esc)" if self.adding else "Quit", id="quit")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "use_demo":
            return not self.adding
        if action == "cancel":
            return self.adding
        return True

    def action_quit_app(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#quit")
    def _quit(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#use-demo")
    def action_use_demo(self) -> None:
        from relay_tui.core.session import demo_session

        self.dismiss(demo_session(self.app.history))

    @on(Input.Submitted, "#profile-name, #base-url, #default-model")
    def _next_field(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#add-profile")
    @on(Input.Submitted, "#api-key")
    def _add_profile(self) -> None:
        self.show_problem(self.add_profile())

    def show_problem(self, problem: str | None) -> None:
        """Show (or clear) the form's problem above its buttons, scrolled into view."""
        widget = self.query_one("#first-run-problem", Static)
        widget.update(Text(problem or ""))
        widget.display = bool(problem)
        if problem:
            # the buttons end the form: scrolled to the end, the problem above them is in view too
            self.call_after_refresh(self.query_one(FormScroll).scroll_end, animate=False)

    def add_profile(self) -> str | None:
        """Store the key, save the profile and open it; return a one-line problem instead.

        Nothing is written unless the whole profile works: the key goes into the keyring first
        (the step that fails without a keyring backend), then the profile into config.toml, so a
        failure never leaves a profile behind that cannot get its key.
        """
        from relay_tui.core.session import Session
        from relay_tui.core.target import SetupError, resolve_target
        from relay_tui.store import config, keys
        from relay_tui.store.profile import Profile

        value = {i: self.query_one(f"#{i}", Input).value.strip()
                 for i in ("profile-name", "base-url", "default-model", "api-key")}
        if not value["profile-name"] or not value["base-url"]:
            return "a profile needs a name and a base URL"
        if not value["base-url"].startswith(("http://", "https://")):
            return "the base URL must start with https:// (or http://)"
        profile = Profile(name=value["profile-name"], base_url=value["base-url"].rstrip("/"),
                          default_model=value["default-model"] or None)
        try:
            existing = config.load_settings()
            if value["api-key"]:
                keys.set_key(profile.name, value["api-key"])
            elif keys.get_key(profile) is None:
                return (f"enter the relay's API key: it goes into the OS keyring (or start relay-tui "
                        f"with {keys.ENV_VAR} set and leave the field empty)")
            # The target as it will be once saved: the checks of a real start, before any write.
            target = resolve_target(profile_name=profile.name, settings=config.Settings(
                profiles={profile.name: profile}, active_profile=profile.name))
        except keys.KeyringUnavailable as exc:
            reason = str(exc).split("; set ")[0]
            return (f"nothing was saved: {reason}. Quit, start relay-tui with {keys.ENV_VAR} set to "
                    f"the key and add the profile with the key field empty; or use the demo relay "
                    f"(ctrl+d)")
        except (config.ConfigError, SetupError) as exc:
            return str(exc)
        finally:
            self.query_one("#api-key", Input).value = ""
        try:  # a profile added later becomes the active one only if there is none
            config.save_profile(profile, make_active=not self.adding or not existing.active_profile)
        except config.ConfigError as exc:
            if value["api-key"] and profile.name not in existing.profiles:
                try:  # the key was stored for a profile that does not exist after all
                    keys.delete_key(profile.name)
                except keys.KeyringUnavailable:
                    pass
            target.close()
            return str(exc)
        self.dismiss(Session(target, self.app.history))
        return None
