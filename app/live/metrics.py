"""The live updates' Prometheus counters and gauges (default registry, ready for /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

TIMELINE_QUERIES = Counter(
    "stepladder_timeline_queries", "Temporal `timeline` queries made by the live-update hub"
)
TIMELINE_QUERY_ERRORS = Counter(
    "stepladder_timeline_query_errors", "Failed `timeline` queries (Temporal unreachable, ...)"
)
INBOX_POLLS = Counter("stepladder_inbox_polls", "Approvals-inbox reads made by the live-update hub")
LIVE_FEEDS = Gauge("stepladder_live_feeds", "Pollers running (watched executions + inbox)")
LIVE_SUBSCRIBERS = Gauge("stepladder_live_subscribers", "Open live-update (SSE) streams")
