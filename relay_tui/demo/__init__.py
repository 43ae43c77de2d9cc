"""The embedded demo relay: a real OpenAI-compatible HTTP server on loopback.

It is what new users try the app on and what every test and benchmark talks to, so the client
never has a "demo mode": it speaks HTTP to this like to any relay.
"""

from relay_tui.demo.catalog import AUTO, MODELS, ModelSpec
from relay_tui.demo.faults import FAULTS
from relay_tui.demo.server import DEMO_KEY, DemoRelay

__all__ = ["AUTO", "DEMO_KEY", "FAULTS", "MODELS", "DemoRelay", "ModelSpec"]
