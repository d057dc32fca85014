"""Operations: structured logs (structlog), traces (OpenTelemetry) and the product's Prometheus
metrics (read from the records at scrape time)."""
