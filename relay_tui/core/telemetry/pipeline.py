"""The export pipeline: one thread turns SpanSpecs into OpenTelemetry spans and metric points.

Callers (the chat, compare and bench code, on the UI or network thread) only put a small tuple
on a bounded queue: building spans, the SDK itself (imported here, on this thread, when the first
item arrives: neither start-up nor the first frame pays for it) and the OTLP/HTTP export (the
SDK's BatchSpanProcessor and PeriodicExportingMetricReader, each on a thread of its own, batched,
with bounded queues) never run on the stream path. A full queue drops, and counts, what does not
fit. A collector that is down, slow or refusing is reported once, through `report`, and the SDK's
own log lines are kept off the terminal.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from relay_tui import __version__
from relay_tui.core.telemetry.config import Plan
from relay_tui.core.telemetry.spans import SECONDS_BUCKETS, TOKEN_BUCKETS, SpanSpec

MAX_PENDING = 2048         # spans waiting for this thread; beyond that they are dropped
DOWN_SECONDS = 30.0        # after a failed export, live spans are shed this long, then tried again
PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy")
_STOP = object()


class Pipeline:
    def __init__(self, plan: Plan, report: Callable[[str], None], *, backfill: bool = False):
        self.plan = plan
        # A backfill records no metrics (the SDK stamps points "now") and sheds nothing.
        self.backfill = backfill
        self._down_until = 0.0
        self._report = report
        self._reported = False
        self.dropped = 0
        self.exported = 0          # spans the collector accepted (for `telemetry export`)
        self.failed = False
        self._queue: queue.Queue = queue.Queue(MAX_PENDING)
        self._sdk: _Sdk | None = None
        self._thread = threading.Thread(target=self._run, name="relay-tui-telemetry", daemon=True)
        self._thread.start()

    def shedding(self) -> bool:
        """Whether live spans are dropped on arrival: for DOWN_SECONDS after an export failed
        (they could only wait in queues to be dropped there, costing CPU meanwhile)."""
        return not self.backfill and time.monotonic() < self._down_until

    def put(self, spec: SpanSpec, *, block: bool = False) -> None:
        """Hand a span over. Live requests never block: when the queue is full, or the
        collector is down, the span is dropped. A backfill blocks instead."""
        if self.shedding():
            self.dropped += 1
            return
        try:
            self._queue.put(spec, block=block)
        except queue.Full:
            self.dropped += 1

    def stop(self, wait: float) -> None:
        """Flush what is queued to the collector, waiting at most `wait` seconds, and less when
        an export already failed: a collector that refuses or does not answer must not hold up
        an exit (what is left is dropped)."""
        deadline = time.monotonic() + wait
        try:
            self._queue.put(_STOP, timeout=wait)
        except queue.Full:
            pass
        while self._thread.is_alive() and time.monotonic() < deadline and not _LastError.trouble.is_set():
            self._thread.join(0.02)
        if self._thread.is_alive() and self._sdk is not None:
            self._sdk.abort()          # ends the exporters' retries and backoff sleeps
            self._thread.join(0.2)
            if wait > 0:
                self.problem(f"telemetry: the collector at {_collector(self.plan)} did not answer "
                             f"within {wait:g} s; the last spans and metrics were dropped")

    def problem(self, line: str) -> None:
        """Say once that telemetry does not work (a collector down, slow or refusing)."""
        self.failed = True
        if not self._reported:
            self._reported = True
            self._report(line)

    def export_failed(self, reason: str | None) -> None:
        self._down_until = time.monotonic() + DOWN_SECONDS
        self.problem(f"telemetry: the collector at {_collector(self.plan)} does not take the "
                     f"spans and metrics ({reason or 'no answer'}); requests go on, their "
                     f"telemetry is dropped while it does not")

    def exported_ok(self, count: int) -> None:
        self.exported += count
        self._down_until = 0.0

    def _probe(self) -> None:
        """Connect to the collector once: one that refuses or does not exist is known before
        the first batch is due (5 s), so a dead collector costs requests nothing from the start.
        Skipped behind a proxy, which the exporter goes through and this would not."""
        from urllib.parse import urlsplit

        if any(os.environ.get(var) for var in PROXY_VARS):
            return
        parts = urlsplit(_endpoint(self.plan))
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            socket.create_connection((parts.hostname, port), timeout=2).close()
        except (OSError, ValueError) as exc:
            self.export_failed(_reason(str(exc)))

    def _run(self) -> None:
        item = self._queue.get()
        if item is _STOP:
            return
        try:
            self._sdk = _Sdk(self.plan, self)
        except Exception as exc:  # noqa: BLE001 - a broken install must not break the app
            self.problem(f"telemetry is off: the OpenTelemetry SDK did not start "
                         f"({exc.__class__.__name__}: {exc})")
            return
        if not self.backfill:
            self._probe()
        while item is not _STOP:
            if self.shedding():
                self.dropped += 1
                item = self._queue.get()
                continue
            try:
                self._sdk.emit(item)
            except Exception as exc:  # noqa: BLE001 - a span we cannot build is dropped, not fatal
                self.dropped += 1
                self.problem(f"telemetry: a span could not be built ({exc.__class__.__name__}); "
                             f"it was dropped")
            item = self._queue.get()
        self._sdk.shutdown()


class _Sdk:
    """The OpenTelemetry SDK objects: a tracer and four GenAI histograms with their exporters."""

    def __init__(self, plan: Plan, pipeline: Pipeline):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
        from opentelemetry.sdk.trace.id_generator import IdGenerator
        from opentelemetry.trace import SpanKind

        self._kind = (SpanKind.CLIENT, SpanKind.INTERNAL)
        self._pipeline = pipeline
        _quiet_sdk_logs(pipeline)

        class Spans(OTLPSpanExporter):
            def export(self, spans):
                result = super().export(spans)
                if result is SpanExportResult.SUCCESS:
                    pipeline.exported_ok(len(spans))
                else:
                    pipeline.export_failed(_LastError.line)
                return result

        class Metrics(OTLPMetricExporter):
            def export(self, metrics_data, timeout_millis: float = 10_000, **kwargs):
                result = super().export(metrics_data, timeout_millis, **kwargs)
                if result is not MetricExportResult.SUCCESS:
                    pipeline.export_failed(_LastError.line)
                return result

        class Preset(IdGenerator):
            """Ids chosen by `emit` (derived from the request), so spans are idempotent."""

            trace_id = span_id = 0

            def generate_trace_id(self) -> int:
                return self.trace_id

            def generate_span_id(self) -> int:
                return self.span_id

        endpoint = plan.endpoint
        self._exporters = []
        if plan.traces:
            self._exporters.append(Spans(endpoint=f"{endpoint}/v1/traces" if endpoint else None))
        if plan.metrics:
            self._exporters.append(Metrics(endpoint=f"{endpoint}/v1/metrics" if endpoint else None))
        # The SDK merges OTEL_RESOURCE_ATTRIBUTES in; what it names wins over [telemetry]'s.
        from_env = {pair.partition("=")[0].strip() for pair in
                    os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(",")}
        attributes = {"service.version": __version__, "service.name": plan.service_name,
                      **{k: v for k, v in plan.resource_attributes.items() if k not in from_env}}
        resource = Resource.create(attributes)
        self._ids = Preset()
        self._tracer_provider = TracerProvider(resource=resource, id_generator=self._ids,
                                               shutdown_on_exit=False)
        if plan.traces:
            self._tracer_provider.add_span_processor(BatchSpanProcessor(self._exporters[0]))
        self._tracer = self._tracer_provider.get_tracer("relay_tui", __version__)
        self._meter_provider = MeterProvider(
            resource=resource, shutdown_on_exit=False,
            metric_readers=[PeriodicExportingMetricReader(e) for e in self._exporters
                            if isinstance(e, Metrics)])
        meter = self._meter_provider.get_meter("relay_tui", __version__)

        def histogram(name: str, unit: str, description: str, buckets) -> Any:
            return meter.create_histogram(name, unit=unit, description=description,
                                          explicit_bucket_boundaries_advisory=list(buckets))

        self._duration = histogram("gen_ai.client.operation.duration", "s",
                                   "GenAI operation duration.", SECONDS_BUCKETS)
        self._tokens = histogram("gen_ai.client.token.usage", "{token}",
                                 "Number of input and output tokens used.", TOKEN_BUCKETS)
        self._ttfc = histogram("gen_ai.client.operation.time_to_first_chunk", "s",
                               "Time to receive the first chunk.", SECONDS_BUCKETS)
        self._per_chunk = histogram("gen_ai.client.operation.time_per_output_chunk", "s",
                                    "Time per output chunk after the first one.", SECONDS_BUCKETS)

    def emit(self, spec: SpanSpec) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags

        context = None
        if spec.parent_span_id is not None:
            parent = SpanContext(spec.trace_id, spec.parent_span_id, is_remote=False,
                                 trace_flags=TraceFlags(TraceFlags.SAMPLED))
            context = trace.set_span_in_context(trace.NonRecordingSpan(parent))
        self._ids.trace_id, self._ids.span_id = spec.trace_id, spec.span_id
        span = self._tracer.start_span(spec.name, context=context,
                                       kind=self._kind[0 if spec.client else 1],
                                       attributes=spec.attributes, start_time=spec.start_ns)
        if spec.error is not None:
            span.set_status(Status(StatusCode.ERROR, spec.error))
        span.end(end_time=max(spec.end_ns, spec.start_ns))
        if not spec.client or self._pipeline.backfill:
            return
        attrs = spec.metric_attributes
        if spec.duration is not None:
            self._duration.record(spec.duration, attrs)
        for token_type, count in spec.tokens.items():
            self._tokens.record(count, {**attrs, "gen_ai.token.type": token_type})
        if spec.ttfc is not None:
            self._ttfc.record(spec.ttfc, attrs)
        for gap in spec.chunk_gaps:
            self._per_chunk.record(gap, attrs)

    def shutdown(self) -> None:
        self._tracer_provider.shutdown()
        self._meter_provider.shutdown()

    def abort(self) -> None:
        for exporter in self._exporters:
            exporter.shutdown()


class _LastError(logging.Handler):
    """Turns the SDK's warnings (an export attempt failed, a retry is due) into the one line
    the user sees, at the first failed attempt rather than after 10 s of retries, instead of
    letting Python's last-resort handler print every retry on the terminal; and raises
    `trouble`, so an exit does not wait out the exporter's retries."""

    line: str | None = None
    trouble = threading.Event()
    pipeline: Pipeline | None = None

    def emit(self, record: logging.LogRecord) -> None:
        from relay_tui.core.redact import redact

        if not record.name.startswith("opentelemetry.exporter"):
            return            # kept off the terminal, but not about the collector
        _LastError.trouble.set()
        try:
            message = " ".join(record.getMessage().split())
        except Exception:  # noqa: BLE001
            return
        if "shutdown" not in message.lower():   # our own abort, not the reason
            _LastError.line = redact(_reason(message))
            if _LastError.pipeline is not None:
                _LastError.pipeline.export_failed(_LastError.line)


_REASONS = (("connection refused", "connection refused"), ("name or service not known", "unknown host"),
            ("timed out", "timed out"), ("timeout", "timed out"), ("ssl", "TLS failed"),
            ("certificate", "TLS failed"))
_STATUS = re.compile(r"code: (\d{3}), reason: ([^,;]*)")


def _reason(message: str) -> str:
    """The SDK's log line, cut to why: "connection refused", "HTTP 401 Unauthorized", ..."""
    status = _STATUS.search(message)
    if status:
        return f"HTTP {status[1]} {status[2].strip()}".strip()
    lower = message.lower()
    return next((why for needle, why in _REASONS if needle in lower), message[:120])


def _quiet_sdk_logs(pipeline: Pipeline) -> None:
    logger = logging.getLogger("opentelemetry")
    if not any(isinstance(h, _LastError) for h in logger.handlers):
        logger.addHandler(_LastError(logging.WARNING))
    logger.propagate = False
    _LastError.line = None
    _LastError.pipeline = pipeline
    _LastError.trouble.clear()


def _endpoint(plan: Plan) -> str:
    """The collector's URL, as the exporters resolve it (traces first)."""
    signals = ("TRACES", "METRICS") if plan.traces else ("METRICS",)
    return next((os.environ[f"OTEL_EXPORTER_OTLP_{s}_ENDPOINT"] for s in signals
                 if os.environ.get(f"OTEL_EXPORTER_OTLP_{s}_ENDPOINT", "").strip()),
                os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or plan.endpoint or "").strip()


def _collector(plan: Plan) -> str:
    """Where spans go, as host:port (never a user or password), for messages."""
    from urllib.parse import urlsplit

    parts = urlsplit(_endpoint(plan))
    try:
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    except ValueError:
        return str(parts.hostname)
