"""First run: no profile yet. Offer the demo relay, or a form that adds a profile and its key.

The key typed here goes straight into the OS keyring (store.keys); it is never written to the
config file. Without a keyring backend the form says so and names the environment variable.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static


class FirstRunScreen(Screen):
    """Dismisses with a Session, or None when the user quits."""

    BINDINGS = [Binding("ctrl+q", "quit_app", "Quit", priority=True),
                Binding("ctrl+d", "use_demo", "Use the demo relay")]
    DEFAULT_CSS = """
    FirstRunScreen { align: center middle; }
    FirstRunScreen > Vertical {
        width: 76; max-width: 98%; height: auto; border: round $primary;
        background: $surface; padding: 1 2;
    }
    FirstRunScreen Input { margin-bottom: 1; }
    FirstRunScreen #first-run-problem { color: $error; margin-bottom: 1; }
    FirstRunScreen Horizontal { height: auto; }
    FirstRunScreen Button { margin-right: 2; }
    """

    def __init__(self, problem: str | None = None):
        super().__init__()
        self.problem = problem

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("[b]Welcome to relay-tui[/b]\n\nTry everything on the built-in demo relay "
                         "(no account, no key), or add your relay:\n")
            yield Label(self.problem or "", id="first-run-problem")
            yield Button("Use the demo relay  (ctrl+d)", id="use-demo", variant="primary")
            yield Static("")
            yield Input(placeholder="profile name, e.g. work", id="profile-name")
            yield Input(placeholder="base URL, e.g. https://relay.example.com/v1", id="base-url")
            yield Input(placeholder="default model (optional), e.g. gpt-4.1", id="default-model")
            yield Input(placeholder="API key (stored in the OS keyring, never in a file)",
                        password=True, id="api-key")
            with Horizontal():
                yield Button("Add profile", id="add-profile")
                yield Button("Quit", id="quit")

    def action_quit_app(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#quit")
    def _quit(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#use-demo")
    def action_use_demo(self) -> None:
        from relay_tui.core.session import demo_session

        self.dismiss(demo_session(self.app.history))

    @on(Button.Pressed, "#add-profile")
    @on(Input.Submitted, "#api-key")
    def _add_profile(self) -> None:
        problem = self.add_profile()
        if problem:
            self.query_one("#first-run-problem", Label).update(problem)

    def add_profile(self) -> str | None:
        """Save the profile and its key, then open it; return a one-line problem instead."""
        from relay_tui.core.session import open_session
        from relay_tui.core.target import SetupError
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
            config.save_profile(profile, make_active=True)
            if value["api-key"]:
                keys.set_key(profile.name, value["api-key"])
            session = open_session(self.app.history, profile_name=profile.name)
        except (config.ConfigError, keys.KeyringUnavailable, SetupError) as exc:
            return str(exc)
        finally:
            self.query_one("#api-key", Input).value = ""
        self.dismiss(session)
        return None
