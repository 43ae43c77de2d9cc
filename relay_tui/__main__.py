"""`python -m relay_tui` runs the same entry point as the `relay-tui` script."""

from relay_tui.cli import main

raise SystemExit(main())
