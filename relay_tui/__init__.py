"""relay-tui: a terminal console for models behind an OpenAI-compatible relay."""

__version__ = "0.1.0"
