"""The step analytics charts come from aggregates (issue 16): the per-day counts from one GROUP
BY, the traffic rate from a count, the rate chart from the last runs it shows — and say exactly
what they said when every run of the last 90 days was loaded."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from app.db import step_configs
from app.db.tables import StepRun
from app.definitions.loader import load_definitions
from app.domain.promotion_estimate import recent_runs_per_day
from app.domain.step_charts import ModeMark, rate_chart, runs_per_day_chart
from app.settings import REPO_ROOT
from app.steps.analytics import CHART_HISTORY_DAYS, analytics
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES

# Under an id of its own: the session's worker may still record runs of executions that other
# tests started, and those would count here (as in tests/test_promotion_service.py).
ONBOARDING = replace(
    load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)["customer_onboarding"],
    id="analytics_onboarding",
)
STEP = "create_crm_record"
STATUSES = ["completed"] * 6 + ["failed", "rejected", "expired", "skipped", "cancelled"]


async def seed_runs(now: datetime, count: int) -> None:
    """`count` runs over the last 100 days (some at the very same instant, some in the future
    of `now`'s day), statuses mixed, counted or not."""
    chance = random.Random(16)
    rows = []
    for n in range(count):
        at = now - timedelta(minutes=chance.randrange(0, 100 * 24 * 60))
        if n % 17 == 0 and rows:
            at = rows[-1].ended_at  # a tie with the previous run
        rows.append(
            StepRun(
                run_key=f"e{n}/{STEP}", execution_id=f"e{n}", workflow_id=ONBOARDING.id,
                step_id=STEP, mode=chance.choice(["manual", "supervised", "automatic"]),
                status=chance.choice(STATUSES), started_at=at, ended_at=at, duration_ms=5,
            )  # type: ignore[call-arg]
        )  # fmt: skip
    for start in range(0, len(rows), 1000):
        await StepRun.insert(*rows[start : start + 1000])


async def test_the_charts_from_aggregates_say_what_every_run_said(database_url: str) -> None:
    await seed_step_configs([ONBOARDING])
    now = datetime.now(UTC)
    await seed_runs(now, 3000)

    got = await analytics(ONBOARDING, STEP, now)

    every = await step_configs.finished_runs(
        ONBOARDING.id, STEP, now - timedelta(days=CHART_HISTORY_DAYS)
    )
    marks = [ModeMark(h.changed_at, h.from_mode, h.to_mode, h.kind) for h in got.history]
    criteria = got.criteria
    assert got.day_chart == runs_per_day_chart(every, now.date())
    assert got.rate_chart == rate_chart(
        every, marks, criteria.demotion_window, criteria.min_success_rate
    )
    assert got.runs_per_day == recent_runs_per_day([(r.status, r.ended_at) for r in every], now)
    assert got.rate_chart is not None and len(got.rate_chart.dots) == 200
    assert sum(b.successes + b.failures for b in got.day_chart.bars) > 100


async def test_without_runs_the_charts_are_empty(database_url: str) -> None:
    await seed_step_configs([ONBOARDING])
    got = await analytics(ONBOARDING, STEP)
    assert got.rate_chart is None and got.runs_per_day == 0
    assert all(b.successes + b.failures == 0 for b in got.day_chart.bars)
