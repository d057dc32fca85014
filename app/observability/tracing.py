"""Traces: an OpenTelemetry tracer provider built from the standard OTEL_* variables, and the
Temporal interceptor that carries its context from the web request to the activity.

Off by default: without OTEL_TRACES_EXPORTER (or with `none`) there is no provider, no
interceptor and no middleware, so tracing costs nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from temporalio.client import Interceptor
from temporalio.contrib.opentelemetry import TracingInterceptor

# Exporters OTEL_TRACES_EXPORTER may name (comma-separated); `otlp` is OTLP over HTTP/protobuf
# (OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318).
TRACES_EXPORTERS = ("otlp", "console", "none")


def span_exporter(name: str) -> SpanExporter:
    if name == "console":
        return ConsoleSpanExporter()
    # Imported only when used: the OTLP exporter pulls in protobuf and requests.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()  # endpoint, headers, timeout from OTEL_EXPORTER_OTLP_*


@dataclass(frozen=True)
class Tracing:
    """The process's tracing: `provider` is None when tracing is off."""

    provider: TracerProvider | None = None

    @classmethod
    def from_exporters(cls, exporters: tuple[str, ...], service_name: str) -> Tracing:
        """Tracing exporting to `exporters` (names of TRACES_EXPORTERS; none or empty: off), as
        `service_name` unless OTEL_SERVICE_NAME names it; the SDK reads the other OTEL_*
        variables (sampler, batch sizes, resource attributes, the exporter's endpoint)."""
        chosen = [name for name in exporters if name != "none"]
        if not chosen:
            return cls()
        return cls.with_processors(
            [BatchSpanProcessor(span_exporter(name)) for name in chosen], service_name
        )

    @classmethod
    def with_processors(cls, processors: list[SpanProcessor], service_name: str) -> Tracing:
        """Tracing on, spans handed to `processors` (tests give an in-memory exporter's)."""
        attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
        provider = TracerProvider(resource=Resource.create(attributes))
        for processor in processors:
            provider.add_span_processor(processor)
        return cls(provider)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def temporal_interceptors(self) -> list[Interceptor]:
        """For Client.connect: spans for starts, updates, signals and queries, their context in
        the Temporal headers; a worker built on that client traces workflows and activities."""
        if self.provider is None:
            return []
        return [TracingInterceptor(self.provider.get_tracer("stepladder.temporal"))]

    def shutdown(self) -> None:
        """Export what is buffered and stop (the process is ending)."""
        if self.provider is not None:
            self.provider.shutdown()
