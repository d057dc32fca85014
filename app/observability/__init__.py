"""Process-wide observability set-up: structured logs (structlog) and traces (OpenTelemetry)."""
