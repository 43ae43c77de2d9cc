"""First run: no profile yet. Offer the demo relay, or a form that adds a profile and its key.

The same form adds a profile later (`adding=True`: from the profile picker or the palette); it
then offers no demo relay and cancels instead of quitting.

The key typed here goes straight into the OS keyring (store.keys); it is never written to the
config file. Where it goes is a choice on the form: the keyring (the default when there is one),
an environment variable the profile names (`key_env`: the key typed is used for this run, and
the form says what to export), or — chosen explicitly, with the warning in view — a plain file
only the user can read. Without a keyring the choice starts on the environment variable: never
a silent plaintext fallback.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal
from textual.screen import Screen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from relay_tui.ui.pickers import FormScroll, InOrderInput

FIELDS = (("profile-name", "Profile name", "e.g. work", False),
          ("base-url", "Base URL", "e.g. https://relay.example.com/v1", False),
          ("default-model", "Default model", "optional, e.g. gpt-4.1", False),
          ("api-key", "API key", "stored where the choice below says", True))
STORAGE = (("keyring", "OS keyring"), ("env", "an environment variable"),
           ("file", "a file only you can read (plain text)"))
FILE_WARNING = ("The key is written unencrypted to keys.json (mode 0600): anyone with your account "
                "or its backups can read it. An environment variable is safer.")


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
    FirstRunScreen RadioSet { border: none; padding: 0; background: $surface; }
    FirstRunScreen #file-warning { color: $text-warning; margin: 1 0 0 0; }
    FirstRunScreen #first-run-problem { color: $text-error; margin: 1 0 0 0; }
    FirstRunScreen #first-run-buttons { height: auto; margin: 1 0 0 0; }
    FirstRunScreen #first-run-buttons Button { margin-right: 2; }
    """

    def __init__(self, problem: str | None = None, *, adding: bool = False):
        from relay_tui.store.keys import keyring_available

        super().__init__()
        self.problem = problem
        self.adding = adding
        self.has_keyring = keyring_available()
        self._suggested = ""

    def compose(self) -> ComposeResult:
        with FormScroll() as form:
            if self.adding:
                form.border_title = "Add a relay profile"
                yield Static("Its key goes where you choose below (the OS keyring when there is "
                             "one); the profile into config.toml. Esc cancels.", id="first-run-intro")
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
                yield Label("Key stored in")
                with RadioSet(id="key-storage", compact=True):
                    for value, label in STORAGE:
                        if value == "keyring" and not self.has_keyring:
                            label += " (none on this machine)"
                        button = RadioButton(label, id=f"storage-{value}",
                                             value=value == ("keyring" if self.has_keyring else "env"))
                        button.disabled = value == "keyring" and not self.has_keyring
                        yield button
                yield Label("Variable", id="key-env-label")
                yield InOrderInput(placeholder="e.g. WORK_RELAY_KEY: the profile reads its key "
                                   "from it", id="key-env", compact=True)
            warning = Static(FILE_WARNING, id="file-warning")
            warning.display = False
            yield warning
            problem = Static("", id="first-run-problem")
            problem.display = False
            yield problem
            with Horizontal(id="first-run-buttons"):
                yield Button("Add profile", id="add-profile")
                yield Button("Cancel (Esc)" if self.adding else "Quit", id="quit")

    def on_mount(self) -> None:
        self._storage_changed()

    @property
    def storage(self) -> str:
        """Where the key goes: "keyring", "env" or "file"."""
        pressed = self.query_one("#key-storage", RadioSet).pressed_button
        return pressed.id.removeprefix("storage-") if pressed is not None else "env"

    @on(RadioSet.Changed, "#key-storage")
    def _storage_changed(self) -> None:
        env = self.storage == "env"
        for widget_id in ("#key-env-label", "#key-env"):
            self.query_one(widget_id).display = env
        self.query_one("#file-warning").display = self.storage == "file"
        self._suggest_env_name()

    @on(Input.Changed, "#profile-name")
    def _suggest_env_name(self) -> None:
        """Fill the variable's name from the profile's ("work" -> WORK_RELAY_KEY) until the user
        types one of their own."""
        box = self.query_one("#key-env", Input)
        suggested = _env_name_for(self.query_one("#profile-name", Input).value.strip())
        if box.value in ("", self._suggested):
            box.value = self._suggested = suggested

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

        Nothing is written unless the whole profile works: the key goes where the form says
        first (the step that fails without a keyring backend), then the profile into
        config.toml, so a failure never leaves a profile behind that cannot get its key. The
        key stays in its field when nothing was saved, so another choice needs no retyping.
        """
        import os

        from relay_tui.core.session import Session
        from relay_tui.core.target import SetupError, resolve_target
        from relay_tui.store import config, keys
        from relay_tui.store.profile import Profile

        value = {i: self.query_one(f"#{i}", Input).value.strip()
                 for i in ("profile-name", "base-url", "default-model", "api-key", "key-env")}
        storage, key = self.storage, value["api-key"]
        if not value["profile-name"] or not value["base-url"]:
            return "a profile needs a name and a base URL"
        if not value["base-url"].startswith(("http://", "https://")):
            return "the base URL must start with https:// (or http://)"
        key_env = value["key-env"] if storage == "env" else None
        if storage == "env" and not config.is_env_name(key_env or ""):
            return "name the environment variable that will hold the key (letters, digits, _)"
        profile = Profile(name=value["profile-name"], base_url=value["base-url"].rstrip("/"),
                          default_model=value["default-model"] or None, key_env=key_env)
        unset = storage == "env" and not os.environ.get(key_env, "").strip()
        typed_only = unset and bool(key)  # else RELAY_TUI_API_KEY, if set, stands in
        try:
            existing = config.load_settings()
            if profile.name in existing.profiles:
                return (f"a profile named {profile.name!r} already exists: choose another name "
                        f"(or change it with `relay-tui profiles edit {profile.name}`)")
            if unset and not key and not os.environ.get(keys.ENV_VAR, "").strip():
                return (f"{key_env} is not set: type the key to use it for this run (set "
                        f"{key_env} in your shell for the next ones)")
            if storage != "env" and key:
                keys.set_key(profile.name, key, insecure_file=storage == "file")
            elif storage != "env" and keys.get_key(profile) is None:
                return "enter the relay's API key"
            # The target as it will be once saved: the checks of a real start, before any write.
            target = resolve_target(profile_name=profile.name, need_key=not typed_only,
                                    settings=config.Settings(profiles={profile.name: profile},
                                                             active_profile=profile.name))
        except keys.KeyringUnavailable as exc:
            reason = str(exc).split("; set ")[0]
            return (f"nothing was saved: {reason}. Choose an environment variable or a file "
                    f"for the key under \"Key stored in\", or use the demo relay (ctrl+d)")
        except (config.ConfigError, SetupError) as exc:
            return str(exc)
        if typed_only:
            target.api_key, target.key_source = key, "typed, this run only"
        self.query_one("#api-key", Input).value = ""
        try:  # the app switches to it: it is the active profile from now on (as ctrl+o makes it)
            config.save_profile(profile, make_active=True)
        except config.ConfigError as exc:
            if storage != "env" and key:
                try:  # the key was stored for a profile that does not exist after all
                    keys.delete_key(profile.name)
                except keys.KeyringUnavailable:
                    pass
            target.close()
            return str(exc)
        if typed_only:
            self.app.notify(f"The key is used for this run only: set {key_env} in your shell "
                            f"(e.g. in ~/.profile) for the next ones", title="Key",
                            severity="warning", timeout=20)
        elif storage == "file":
            self.app.notify(f"The key is stored unencrypted in {keys.key_file_path()} (readable "
                            f"by you only)", title="Key", severity="warning", timeout=20)
        self.dismiss(Session(target, self.app.history))
        return None


def _env_name_for(profile: str) -> str:
    """A variable name suggested for a profile's key: "work" -> WORK_RELAY_KEY."""
    import re

    stem = re.sub(r"[^A-Za-z0-9]+", "_", profile).strip("_").upper()
    if not stem:
        return ""
    return f"{'_' + stem if stem[0].isdigit() else stem}_RELAY_KEY"
