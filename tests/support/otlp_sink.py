"""An OTLP/HTTP receiver on loopback that keeps what it is sent, for the metrics tests.

Phoenix, the real trace receiver the tests run, takes no metrics, and no metrics receiver that
answers queries installs here from a package registry (the OpenTelemetry Collector, Prometheus
with its OTLP receiver and VictoriaMetrics come as binaries or in versions too old to take OTLP;
DESIGN-NOTES, "Telemetry"). So the metrics are checked here: the SDK's real exporter posts real
OTLP/HTTP protobuf to this real HTTP server, and the payload is decoded with opentelemetry-proto,
the OTLP schema itself. It also keeps the raw bytes (the secrets test scans them) and can play a
collector that refuses (`status`) or is slow (`delay`).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OtlpSink:
    def __init__(self, status: int = 200, delay: float = 0.0):
        self.status, self.delay = status, delay
        self.posts: list[tuple[str, bytes]] = []   # (path, raw body) in arrival order
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                sink.posts.append((self.path, body))
                time.sleep(sink.delay)
                self.send_response(sink.status)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def raw(self) -> bytes:
        return b"".join(body for _, body in self.posts)

    def spans(self) -> list[dict]:
        """Every span received: name, ids (hex), parent id, kind, status and attributes."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        found = []
        for path, body in self.posts:
            if path != "/v1/traces":
                continue
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                resource = attributes(resource_spans.resource.attributes)
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        found.append({
                            "name": span.name, "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex() or None, "kind": span.kind,
                            "status": span.status.code, "status_message": span.status.message,
                            "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                            "attributes": attributes(span.attributes), "resource": resource})
        return found

    def histograms(self) -> dict[str, list[dict]]:
        """Metric name -> its histogram points (attributes, count, sum, bounds, unit) from every
        export received (a process's points are cumulative; a CLI command exports once, as it
        ends)."""
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest)

        found: dict[str, list[dict]] = {}
        for path, body in self.posts:
            if path != "/v1/metrics":
                continue
            request = ExportMetricsServiceRequest.FromString(body)
            for resource_metrics in request.resource_metrics:
                for scope in resource_metrics.scope_metrics:
                    for metric in scope.metrics:
                        found.setdefault(metric.name, []).extend(
                            {"attributes": attributes(p.attributes), "count": p.count,
                             "sum": p.sum, "bounds": list(p.explicit_bounds), "unit": metric.unit}
                            for p in metric.histogram.data_points)
        return found


def attributes(items) -> dict:
    """OTLP KeyValues as a plain dict (arrays as lists)."""
    def value(v):
        kind = v.WhichOneof("value")
        if kind == "array_value":
            return [value(x) for x in v.array_value.values]
        return getattr(v, kind) if kind else None

    return {item.key: value(item.value) for item in items}
