"""The product's Prometheus metrics: a collector answering counts read from PostgreSQL at scrape
time — the same from every web process, and kept across restarts — plus process counters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from prometheus_client import REGISTRY, Counter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from app.db.metrics import ProductCounts, product_counts

log = logging.getLogger("stepladder.metrics")

# Waiting → decided, in seconds: from a quick click to a day's wait.
DECISION_LATENCY_BOUNDS = (
    5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 43200.0, 86400.0,
)  # fmt: skip

SCRAPE_ERRORS = Counter(
    "stepladder_metrics_scrape_errors",
    "Scrapes whose PostgreSQL reads failed or timed out (their product metrics are left out)",
)


class ProductCollector(Collector):
    """Answers the counts of the last `refresh` (nothing when it failed)."""

    def __init__(self) -> None:
        self.counts: ProductCounts | None = None

    async def refresh(self, timeout_seconds: float) -> None:
        """Read the counts again; on failure count a scrape error and answer none this time."""
        try:
            self.counts = await asyncio.wait_for(
                product_counts(DECISION_LATENCY_BOUNDS, timeout_seconds), timeout_seconds + 1
            )
        except Exception as exc:  # an outage must leave /metrics answering the HTTP metrics
            self.counts = None
            SCRAPE_ERRORS.inc()
            log.warning("product metrics left out of this scrape: %s", exc or type(exc).__name__)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # registered without reading the database

    def collect(self) -> Iterator[Metric]:
        counts = self.counts
        if counts is None:
            return
        waiting = GaugeMetricFamily(
            "stepladder_approvals_waiting",
            "Steps of running executions waiting for an approval decision",
            labels=["workflow", "step"],
        )
        for workflow_id, step_id, n in counts.waiting:
            waiting.add_metric([workflow_id, step_id], n)
        yield waiting
        latency = HistogramMetricFamily(
            "stepladder_decision_latency_seconds",
            "Time from a step starting to wait for approval to the decision ending the wait",
            labels=["workflow", "step"],
        )
        for row in counts.latencies:
            buckets = [
                (repr(b), n) for b, n in zip(DECISION_LATENCY_BOUNDS, row.within, strict=True)
            ]
            buckets.append(("+Inf", row.count))
            latency.add_metric([row.workflow_id, row.step_id], buckets, row.total_seconds)
        yield latency
        outcomes = CounterMetricFamily(
            "stepladder_step_outcomes",
            "Step runs ended, by the mode they ran in and their outcome",
            labels=["workflow", "step", "mode", "outcome"],
        )
        for workflow_id, step_id, mode, outcome, n in counts.outcomes:
            outcomes.add_metric([workflow_id, step_id, mode, outcome], n)
        yield outcomes
        changes = CounterMetricFamily(
            "stepladder_mode_changes",
            "Step mode changes (promotion, demotion, admin), from the audit trail",
            labels=["workflow", "step", "kind", "from_mode", "to_mode"],
        )
        for workflow_id, step_id, kind, from_mode, to_mode, n in counts.mode_changes:
            changes.add_metric([workflow_id, step_id, kind, from_mode, to_mode], n)
        yield changes
        yield from _notification_metrics(counts)


def _notification_metrics(counts: ProductCounts) -> Iterator[Metric]:
    """Notices by channel type, kind and final status, and failed delivery attempts in all
    (sends happen in workers; their records in PostgreSQL are what every web process reads)."""
    notices = CounterMetricFamily(
        "stepladder_notifications",
        "Notices to approvers' channels, by channel type, kind and delivery status",
        labels=["channel_type", "kind", "status"],
    )
    for channel_type, kind, status, n in counts.notifications:
        notices.add_metric([channel_type, kind, status], n)
    yield notices
    failures = CounterMetricFamily(
        "stepladder_notification_failures",
        "Delivery attempts of approval notifications that failed (each retry counts)",
    )
    failures.add_metric([], counts.notification_failures)
    yield failures


PRODUCT = ProductCollector()
REGISTRY.register(PRODUCT)
