"""Whether telemetry is on, and where it goes: the standard OTEL_* variables over `[telemetry]`.

Pure standard-library code (no OpenTelemetry import): `relay-tui --help` and the TUI's first frame
read this, and most users have telemetry off. The SDK reads the same variables itself for what is
only passed through (headers, timeout, certificates, compression, OTEL_RESOURCE_ATTRIBUTES); this
module decides only what the SDK cannot: on or off, the endpoint from config.toml, the content
capture setting, and whether the `otel` extra is installed.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from relay_tui.store.config import TelemetrySettings

INSTALL_HINT = "pip install 'relay-tui[otel]'"
ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
CAPTURE_VAR = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# Values of CAPTURE_VAR that keep content out: the old boolean's "false" and the newer
# enumeration's NO_CONTENT. SPAN_ONLY, SPAN_AND_EVENT, EVENT_ONLY and "true" capture it (on spans:
# relay-tui emits no log events).
_NO_CAPTURE = {"", "false", "0", "no", "no_content", "none"}
_HTTP_PROTOCOLS = {"http/protobuf"}


@dataclass(frozen=True)
class Plan:
    """Telemetry switched on: what the exporter needs beyond the SDK's own environment reading."""

    endpoint: str | None             # from config.toml, used when no OTEL_* endpoint is set
    service_name: str
    capture_content: bool
    latest_conventions: bool         # OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental
    resource_attributes: dict[str, str] = field(default_factory=dict)
    source: str = ""                 # what switched it on, for messages
    traces: bool = True              # an endpoint for each signal (OTEL_*_EXPORTER=none turns one off)
    metrics: bool = True


class TelemetryUnavailable(Exception):
    """Telemetry was asked for but cannot run; `str()` is the one line that says how to fix it."""


def plan(settings: TelemetrySettings | None = None,
         environ: Mapping[str, str] | None = None) -> Plan | None:
    """The telemetry plan, or None when it is off. Raises TelemetryUnavailable when it was asked
    for and cannot run (the extra is missing, an unsupported protocol)."""
    env = os.environ if environ is None else environ
    settings = settings or TelemetrySettings()
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true" or settings.enabled is False:
        return None
    env_endpoint = next((name for name in ENDPOINT_VARS if env.get(name, "").strip()), None)
    if env_endpoint:
        source = env_endpoint
    elif settings.endpoint or settings.enabled:
        source = "[telemetry] in config.toml"
    else:
        return None
    protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf").strip().lower()
    if protocol not in _HTTP_PROTOCOLS:
        raise TelemetryUnavailable(
            f"telemetry is off: relay-tui exports OTLP over HTTP with protobuf only, not {protocol!r} "
            f"— set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf and point the endpoint at the "
            f"collector's OTLP/HTTP port (usually 4318)")
    if not sdk_installed():
        raise TelemetryUnavailable(f"telemetry is on ({source}) but the OpenTelemetry SDK is not "
                                   f"installed: {INSTALL_HINT}")
    capture = env.get(CAPTURE_VAR)
    traces, metrics = (_signal(env, signal, bool(env_endpoint)) for signal in ("TRACES", "METRICS"))
    if not (traces or metrics):
        return None
    return Plan(
        endpoint=None if env_endpoint else (settings.endpoint or "http://localhost:4318"),
        service_name=env.get("OTEL_SERVICE_NAME", "").strip() or settings.service_name or "relay-tui",
        capture_content=(capture.strip().lower() not in _NO_CAPTURE if capture is not None
                         else bool(settings.capture_content)),
        latest_conventions="gen_ai_latest_experimental" in env.get("OTEL_SEMCONV_STABILITY_OPT_IN", ""),
        resource_attributes=dict(settings.resource_attributes), source=source, traces=traces,
        metrics=metrics)


def _signal(env: Mapping[str, str], signal: str, from_env: bool) -> bool:
    """Whether `signal` (TRACES or METRICS) is exported: not when OTEL_{signal}_EXPORTER=none,
    nor when the environment names endpoints but none for it (only a traces endpoint given)."""
    if env.get(f"OTEL_{signal}_EXPORTER", "").strip().lower() == "none":
        return False
    return not from_env or bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
                                or env.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT", "").strip())


def sdk_installed() -> bool:
    """Whether the `otel` extra is there, without importing it (find_spec loads no module but
    the `opentelemetry` namespace package)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in (
            "opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http"))
    except ModuleNotFoundError:
        return False
