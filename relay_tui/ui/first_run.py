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
        try:
            config.save_profile(profile, make_active=True)
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
