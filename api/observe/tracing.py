"""OpenTelemetry tracing, only when configured: OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set and the `tracing` extra installed
(`pip install -e '.[tracing]'`). Then each request is a server span (continuing the caller's
`traceparent`), named by method and route, with the root field, outcome, status and request id
as attributes, and each asyncpg statement a child span. Statements are recorded as their SQL
text with placeholders; their parameters (subject keys, among others) never are.

Unconfigured, nothing of OpenTelemetry is imported and a request pays one `if`."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("credit.tracing")
ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_tracer = None


def configured(env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any(env.get(name) for name in ENDPOINT_ENVS)


def setup(exporter=None):
    """The tracer for request spans, or None when tracing is not configured (or not installed).
    `exporter` replaces the OTLP exporter (tests); once per process."""
    global _tracer
    if _tracer is not None:
        return _tracer
    if exporter is None and not configured():
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        log.warning("tracing is configured (%s) but its packages are not installed: "
                    "pip install -e '.[tracing]'; going on without traces", ENDPOINT_ENVS[0])
        return None
    provider = TracerProvider(resource=Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME", "credit-platform")}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    AsyncPGInstrumentor(capture_parameters=False).instrument(tracer_provider=provider)
    _tracer = trace.get_tracer("credit")
    log.info("tracing on: request spans and asyncpg statements")
    return _tracer


def start_span(tracer, scope):
    """A server span for the request, child of the caller's traceparent if any."""
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind

    carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
               if k in (b"traceparent", b"tracestate")}
    return tracer.start_as_current_span(scope["method"], context=propagate.extract(carrier),
                                        kind=SpanKind.SERVER)


def finish_span(span, method: str, route: str, operation: str, outcome: str, status: int,
                request_id: str) -> None:
    span.update_name(f"{method} {route}")
    span.set_attributes({"http.request.method": method, "http.route": route,
                         "http.response.status_code": status, "credit.operation": operation,
                         "credit.outcome": outcome, "credit.request_id": request_id})
