"""What the TUI holds for the relay it talks to: target, client, history and the model list.

The TUI never builds clients or opens the database itself; it asks a Session, so switching
profile is one call and the CLI's rules for choosing the relay and key (core/target.py) apply
unchanged. Its client reads the network on a thread of its own (core/netloop.py), so rendering
never delays reading nor the timings taken there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from relay_tui.core.client import ModelInfo
from relay_tui.core.netloop import ThreadedClient
from relay_tui.core.target import Target, resolve_target, start_demo
from relay_tui.store import keys

if TYPE_CHECKING:
    from relay_tui.store.history import History


class Session:
    def __init__(self, target: Target, history: History):
        self.target = target
        self.history = history
        self.client = ThreadedClient(target.profile, target.api_key, target.key_source)
        self._models: list[ModelInfo] | None = None

    @property
    def profile(self):
        return self.target.profile

    @property
    def is_demo(self) -> bool:
        return self.target.demo is not None

    @property
    def default_model(self) -> str | None:
        return self.profile.default_model

    def key_state(self) -> str:
        """The key as the status line shows it: masked, with where it came from."""
        if not self.target.api_key:
            return "no key"
        return f"{keys.mask(self.target.api_key)} ({self.target.key_source or 'key'})"

    async def models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The relay's models, fetched once per session unless `refresh`."""
        if self._models is None or refresh:
            self._models = await self.client.models()
        return self._models

    async def aclose(self) -> None:
        await self.client.aclose()
        self.target.close()


def open_session(history: History, *, profile_name: str | None = None,
                 base_url: str | None = None, demo: bool = False) -> Session:
    """A Session for the global options; raises SetupError when there is nothing to talk to."""
    return Session(resolve_target(profile_name=profile_name, base_url=base_url, demo=demo), history)


def demo_session(history: History) -> Session:
    return Session(start_demo(), history)
