"""Quota pane: the active profile's balance as the relay reports it, alerts, and local spend.

The balance is re-read on ctrl+r, every `quota.refresh_seconds`, and shortly after requests are
logged (History.subscribe), so the pane shows what the last request(s) cost the balance next to
what the request log says they cost, without the chat or compare code knowing about this pane.
Alerts fire when a reading crosses a threshold that the previous stored reading had not reached,
so each crossing alerts once, across restarts too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from relay_tui.core.errors import RelayError
from relay_tui.core.quota import QuotaReading, read_quota
from relay_tui.core.sanitize import neutralise
from relay_tui.core.stats import crossed, project, spend_by_day, spend_by_model, store_reading
from relay_tui.core.summary import fmt_amounts, fmt_span
from relay_tui.store import keys
from relay_tui.store.history import RequestRow

SETTLE_S = 0.5          # re-read the balance this long after the last logged request of a burst
SPEND_DAYS = 30
CHART_DAYS = 14
GAUGE_WIDTH = 40


class QuotaPane(VerticalScroll, can_focus=True):
    """Balance, used, remaining, the last requests' delta, alerts, spend and projection."""

    DEFAULT_CSS = """
    QuotaPane { padding: 0 1; }
    QuotaPane > Static { margin-bottom: 1; }
    QuotaPane #quota-gauge { color: $success; margin-bottom: 0; }
    QuotaPane.-warn #quota-gauge { color: $warning; }
    QuotaPane.-danger #quota-gauge { color: $error; }
    QuotaPane.-warn #quota-balance { border-left: thick $warning; padding-left: 1; }
    QuotaPane.-danger #quota-balance { border-left: thick $error; padding-left: 1; }
    QuotaPane #quota-by-model, QuotaPane #quota-by-day { color: $text; }
    """
    BINDINGS = [Binding("ctrl+r", "refresh_quota", "Refresh quota")]

    def __init__(self) -> None:
        super().__init__(id="quota-pane")
        self.reading: QuotaReading | None = None
        self.problem: str | None = None
        self._pending: list[RequestRow] = []   # requests logged since the last reading
        self._delta: Text | None = None
        self._unsubscribe = None
        self._settle = None
        self._rotation_told: set[str] = set()
        self.clock = time.time                   # tests pin it for snapshots

    def compose(self) -> ComposeResult:
        yield Static(id="quota-balance")
        yield Static(id="quota-gauge")
        yield Static(id="quota-delta")
        yield Static(id="quota-notes")
        yield Static(id="quota-projection")
        yield Static(id="quota-by-model")
        yield Static(id="quota-by-day")

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()
        self._unsubscribe = self.app.history.subscribe(
            lambda row: loop.call_soon_threadsafe(self._request_logged, row))
        self.set_interval(self.app.settings.quota_refresh_seconds, self.action_refresh_quota)
        self.call_after_refresh(self.show)  # hidden at start: not on the first frame's time
        if self.app.session is not None:
            self.action_refresh_quota()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()


    def on_show(self) -> None:
        claim_focus(self, self)

    def focus_target(self) -> Widget:
        return self

    def on_descendant_focus(self, event) -> None:
        # Focus only lands here while the pane is in front; letting it reach the TabPane would
        # make TabbedContent re-activate this pane if the user already switched away.
        event.stop()

    # -- the app's pane protocol ------------------------------------------------------------------

    def session_changed(self) -> None:
        self.reading, self.problem, self._pending, self._delta = None, None, [], None
        self.remove_class("-warn", "-danger")
        self.show()
        self.action_refresh_quota()

    def palette_commands(self) -> Iterable[SystemCommand]:
        def refresh() -> None:
            self.app.action_show_pane("quota")
            self.action_refresh_quota()

        yield SystemCommand("Refresh quota", "Read the balance from the relay now (ctrl+r in the "
                            "Quota pane)", refresh)

    # -- reading ----------------------------------------------------------------------------------

    def action_refresh_quota(self) -> None:
        if self.app.session is not None:
            self.run_worker(self._read(), group="quota", exclusive=True, exit_on_error=False)

    def _request_logged(self, row: RequestRow) -> None:
        session = self.app.session
        if session is None or row.profile != session.profile.name or not self.is_mounted:
            return
        self._pending.append(row)
        if self._settle is not None:
            self._settle.stop()
        self._settle = self.set_timer(SETTLE_S, self.action_refresh_quota)

    async def _read(self) -> None:
        session = self.app.session
        profile = session.profile.name
        before = self.reading
        try:
            reading = await read_quota(session.client, session.profile.quota_dialect)
        except RelayError as exc:
            self.problem = str(exc)
            self.show()
            return
        if self.app.session is not session:
            return
        stored = self.app.history.quota_readings(profile, limit=1)
        previous = _fraction(stored[0]) if stored else None
        store_reading(self.app.history, profile, reading)
        self.reading, self.problem = reading, None
        logged = [r for r in self._pending if r.started_at <= reading.read_at]
        self._pending = [r for r in self._pending if r.started_at > reading.read_at]
        if logged and before is not None:
            self._delta = _delta_line(before, reading, logged)
        self._alert(crossed(self.app.settings.quota_alert_thresholds, previous,
                            reading.used_fraction), reading, profile)
        self.show()

    def _alert(self, threshold: float | None, reading: QuotaReading, profile: str) -> None:
        thresholds = self.app.settings.quota_alert_thresholds
        fraction = reading.used_fraction
        reached = [t for t in thresholds if fraction is not None and fraction >= t]
        self.set_class(bool(reached) and max(reached) < max(thresholds), "-warn")
        self.set_class(bool(reached) and max(reached) == max(thresholds), "-danger")
        if threshold is not None:
            severity = "error" if threshold == max(thresholds) else "warning"
            self.notify(f"{profile}: {threshold:.0%} of the quota used — "
                        f"{_amount(reading.remaining, reading.unit)} left",
                        title="Quota alert", severity=severity, timeout=10)

    # -- showing ----------------------------------------------------------------------------------

    def show(self) -> None:
        """Redraw every part from the current reading and the request log."""
        if not self.is_mounted:
            return
        session = self.app.session
        if session is None:
            self.query_one("#quota-balance", Static).update("No relay yet.")
            return
        profile = session.profile.name
        reading = self.reading
        self.query_one("#quota-balance", Static).update(self._balance(profile))
        gauge = self.query_one("#quota-gauge", Static)
        gauge.display = reading is not None and reading.used_fraction is not None
        if gauge.display:
            gauge.update(_gauge(reading.used_fraction))
        self.query_one("#quota-delta", Static).update(self._delta_text())
        notes = self._notes(profile)
        self.query_one("#quota-notes", Static).update(notes)
        self.query_one("#quota-notes", Static).display = bool(notes)
        history = self.app.history
        now = self.clock()
        projection = project(history, profile=profile, reading=reading, now=now)
        self.query_one("#quota-projection", Static).update(_projection_text(projection))
        self.query_one("#quota-by-model", Static).update(
            _by_model(spend_by_model(history, profile=profile, since=now - SPEND_DAYS * 86400)))
        self.query_one("#quota-by-day", Static).update(
            _by_day(spend_by_day(history, profile=profile, days=CHART_DAYS, now=now)))

    def _balance(self, profile: str) -> Text:
        text = Text()
        text.append(f"Quota · {neutralise(profile)}\n", style="bold")  # a name from config.toml
        reading = self.reading
        if reading is None:
            text.append(self.problem or "reading the balance…")
            return text
        granted, used, remaining = fmt_amounts(
            [reading.granted, reading.used, reading.remaining], reading.unit)
        rows = [("granted", "unlimited" if reading.unlimited else granted),
                ("used", used),
                ("remaining", "unlimited" if reading.unlimited else remaining),
                ("unit", reading.unit),
                ("read from", f"{reading.dialect} at {_clock(reading.read_at)}")]
        for label, value in rows:
            text.append(f"{label:<11}", style="dim")
            text.append(f"{value}\n")
        if self.problem:
            text.append(f"last refresh failed: {self.problem}\n")
        text.rstrip()
        return text

    def _delta_text(self) -> Text:
        if self._delta is not None:
            return self._delta
        return Text("The next request's cost to the balance shows here.", style="dim")

    def _notes(self, profile: str) -> Text:
        text = Text()
        age = keys.key_age_days(profile)
        if keys.needs_rotation(profile):
            line = (f"The key for {profile} was stored {age:.0f} days ago: rotate it "
                    f"(`relay-tui keys set {profile}`).")
            text.append(neutralise(line), style="bold")
            if profile not in self._rotation_told:
                self._rotation_told.add(profile)
                self.notify(line, title="Key rotation", severity="warning", timeout=10)
        return text


def _fraction(row) -> float | None:
    """used / granted of a stored reading, as QuotaReading.used_fraction computes it."""
    if row.unlimited or not row.granted or row.used is None:
        return None
    return row.used / row.granted


def _amount(value: float | None, unit: str) -> str:
    return fmt_amounts([value], unit)[0]


def _clock(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _gauge(fraction: float) -> Text:
    filled = round(min(1.0, max(0.0, fraction)) * GAUGE_WIDTH)
    return Text(f"{'█' * filled}{'░' * (GAUGE_WIDTH - filled)} {fraction:.1%} used")


def _delta_line(before: QuotaReading, after: QuotaReading, rows: list[RequestRow]) -> Text:
    """What the last request(s) took from the balance, next to what the log says they cost."""
    relay = sum(r.cost_usd for r in rows if r.cost_usd is not None and r.cost_source == "relay")
    estimated = sum(r.cost_usd for r in rows if r.cost_usd is not None and r.cost_source != "relay")
    what = f"{rows[-1].kind} {rows[-1].model}" if len(rows) == 1 else f"{len(rows)} requests"
    text = Text()
    text.append(f"Last {neutralise(what)}: ", style="bold")
    if before.used is None or after.used is None or before.unit != after.unit:
        text.append("the relay's figures do not show a change")
    else:
        text.append(f"balance used +{_amount(after.used - before.used, after.unit)}")
    text.append(f" · logged ${relay:.6f} relay-reported")
    if estimated:
        text.append(f" + ${estimated:.6f} estimated")
    return text


def _projection_text(p) -> Text:
    text = Text()
    spent = p.relay_usd + p.estimated_usd
    split = f"relay ${p.relay_usd:.4f} + est. ${p.estimated_usd:.4f}"
    if p.per_day is None:  # less than a day of requests: a daily rate would be a guess
        text.append(f"Spent since the first request {fmt_span(p.span_days * 86400)} ago: ",
                    style="bold")
        text.append(f"${spent:.4f} ({split}) · {p.note}")
        return text
    text.append(f"Burn rate (over the last {fmt_span(p.span_days * 86400)}): ", style="bold")
    text.append(f"${p.per_day:.4f}/day ({split})")
    if p.runs_out is not None:
        text.append(f" → runs out in {p.days_left:,.1f} days, on {p.runs_out.isoformat()}")
    else:
        text.append(f" · {p.note}")
    return text


def _bar(relay: float, estimated: float, scale: float, width: int) -> str:
    """Relay-reported spend as █, estimates as ▒ after it (no colour: it follows the theme)."""
    if scale <= 0:
        return ""
    solid = round(relay / scale * width)
    shaded = round((relay + estimated) / scale * width) - solid
    return "█" * solid + "▒" * shaded


LEGEND = "relay-reported ███ · estimated ▒▒▒"
"""Swatches as long as a short bar, so they read as the bars' key (a lone glyph in a title read
as a box that failed to render)."""


def _by_model(rows) -> Group:
    title = Text.assemble((f"Spend by model, last {SPEND_DAYS} days  ", "bold"), (LEGEND, ""))
    table = Table(box=None, expand=False, pad_edge=False)
    for name in ("model", "req", "relay $", "est. $", "no cost", ""):
        table.add_column(name, justify="left" if name in ("model", "") else "right", no_wrap=True)
    scale = max((r.total_usd for r in rows), default=0.0)
    for r in rows:  # model ids come from relays: plain text, as a str cell would be Rich markup
        table.add_row(Text(neutralise(r.key)), str(r.requests), f"{r.relay_usd:.4f}",
                      f"{r.estimated_usd:.4f}", str(r.unpriced) if r.unpriced else "",
                      _bar(r.relay_usd, r.estimated_usd, scale, 24))
    if not rows:
        table.add_row("no requests logged yet", "", "", "", "", "")
    return Group(title, table)


def _by_day(rows) -> Group:
    """One row per day from the first with requests (a fresh history showed 13 rows of dots)."""
    first = next((i for i, r in enumerate(rows) if r.requests), len(rows) - 1)
    rows = rows[first:]
    since = time.strftime("%a %m-%d", time.strptime(rows[0].key, "%Y-%m-%d"))
    title = Text(f"Spend by day, last {CHART_DAYS} days" if first == 0 else
                 f"Spend by day, since {since} (the first request in {CHART_DAYS} days)", style="bold")
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column("day", no_wrap=True)
    table.add_column("$", justify="right", no_wrap=True)
    table.add_column("bar", no_wrap=True)
    scale = max((r.total_usd for r in rows), default=0.0)
    for r in rows:
        day = time.strftime("%a %m-%d", time.strptime(r.key, "%Y-%m-%d"))
        table.add_row(day, f"{r.total_usd:.4f}" if r.requests else "·",
                      _bar(r.relay_usd, r.estimated_usd, scale, 40))
    return Group(title, table)


def claim_focus(pane: Widget, target: Widget) -> None:
    """Arriving on a pane focuses `target`, so the pane's keys work at once. The previous pane's
    focused widget is blurred later (on its Hide event) and can move the focus back to one of
    its hidden siblings, so the focus is checked again once that has happened."""
    def check() -> None:
        focused = pane.screen.focused
        shown = all(node.display for node in pane.ancestors_with_self if isinstance(node, Widget))
        if shown and (focused is None or pane not in focused.ancestors_with_self):
            target.focus()

    target.focus()
    pane.set_timer(0.1, check)
