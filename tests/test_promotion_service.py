"""Promotion and demotion against PostgreSQL: evaluation after an outcome, its idempotence and
locking, admins' version-checked edits and hand-made mode changes, all audited."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.db import step_configs
from app.db.tables import ModeChangeEvent, StepConfig, StepRun
from app.definitions.loader import load_definitions
from app.domain.promotion import ModeChangeRefused, metrics_since
from app.domain.step_config import StepConfigEdit
from app.settings import REPO_ROOT
from app.steps.analytics import analytics
from app.steps.configuration import EditConflict, InvalidStepConfig, save_config
from app.steps.manual import change_mode
from app.steps.promotion import evaluate_after_outcome
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES

# The onboarding under an id of its own: the session's worker still records step runs of
# executions other tests started (records land after the next test's clean-up), and those
# would count in these tests' metrics if they shared the workflow id.
ONBOARDING = replace(
    load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)["customer_onboarding"],
    id="promotion_onboarding",
)
WF = ONBOARDING.id
LOW_BAR = {
    "min_success_rate": 75,
    "min_successful_runs": 3,
    "min_days_in_mode": 0,
    "min_consecutive_successes": 2,
    "demotion_window": 4,
}


@pytest.fixture
async def seeded(database_url: str) -> None:
    await seed_step_configs([ONBOARDING])


async def set_config(step_id: str, workflow_id: str = WF, **values: object) -> None:
    if "criteria" in values:
        values["criteria"] = json.dumps(values["criteria"])
    columns = {getattr(StepConfig, name): value for name, value in values.items()}
    await StepConfig.update(columns).where(  # type: ignore[arg-type]
        (StepConfig.workflow_id == workflow_id) & (StepConfig.step_id == step_id)
    )


async def add_runs(
    step_id: str,
    mode: str,
    statuses: Iterable[str],
    ended_at: datetime | None = None,
    workflow_id: str = WF,
) -> None:
    """Step runs as the engine records them (one row per execution), a second apart."""
    start = ended_at or datetime.now(UTC) - timedelta(minutes=5)
    for offset, status in enumerate(statuses):
        execution_id = f"{workflow_id}-{uuid.uuid4().hex[:12]}"
        at = start + timedelta(seconds=offset)
        await StepRun.insert(
            StepRun(
                run_key=f"{execution_id}/{step_id}", execution_id=execution_id,
                workflow_id=workflow_id,
                step_id=step_id, mode=mode, status=status, started_at=at, ended_at=at,
                duration_ms=5,
            )  # type: ignore[call-arg]
        )  # fmt: skip


async def mode_of(step_id: str) -> str:
    row = await StepConfig.select(StepConfig.mode).where(StepConfig.step_id == step_id).first()
    assert row is not None
    return str(row["mode"])


async def events(step_id: str) -> list[dict[str, object]]:
    return list(
        await ModeChangeEvent.select()
        .where(ModeChangeEvent.step_id == step_id)
        .order_by(ModeChangeEvent.id)
    )


async def back_date(step_id: str, minutes: int = 10, workflow_id: str = WF) -> None:
    """Start the current mode a while ago, so runs inserted "5 minutes ago" belong to it."""
    await set_config(
        step_id, workflow_id, mode_since=datetime.now(UTC) - timedelta(minutes=minutes)
    )


# --- evaluation after an outcome ---------------------------------------------------------------


async def test_one_success_short_of_the_bar_does_not_promote_and_reaching_it_does(
    seeded: None,
) -> None:
    await set_config("check_duplicates", criteria=LOW_BAR)
    await back_date("check_duplicates")
    await add_runs("check_duplicates", "auto_monitored", ["completed", "completed"])
    assert await evaluate_after_outcome(WF, "check_duplicates") is None
    assert await mode_of("check_duplicates") == "auto_monitored"

    await add_runs("check_duplicates", "auto_monitored", ["completed"])
    change = await evaluate_after_outcome(WF, "check_duplicates")

    assert change is not None and change.kind == "promotion"
    assert await mode_of("check_duplicates") == "always_auto"
    (event,) = await events("check_duplicates")
    assert (event["from_mode"], event["to_mode"], event["kind"], event["changed_by"]) == (
        "auto_monitored", "always_auto", "promotion", "promotion",
    )  # fmt: skip
    metrics = json.loads(str(event["metrics"]))
    assert (metrics["successes"], metrics["success_rate"], metrics["consecutive_successes"]) == (
        3, 100.0, 3,
    )  # fmt: skip
    assert metrics["criteria"]["min_successful_runs"] == 3


async def test_evaluating_twice_changes_once_and_counters_restart(seeded: None) -> None:
    await set_config("check_duplicates", criteria=LOW_BAR)
    await back_date("check_duplicates")
    await add_runs("check_duplicates", "auto_monitored", ["completed"] * 3)
    before = await StepConfig.objects().get(StepConfig.step_id == "check_duplicates")
    assert before is not None

    first = await evaluate_after_outcome(WF, "check_duplicates")
    # A retried record activity evaluates again: the new mode has no runs yet.
    again = await evaluate_after_outcome(WF, "check_duplicates")

    assert first is not None and again is None
    assert len(await events("check_duplicates")) == 1
    after = await StepConfig.objects().get(StepConfig.step_id == "check_duplicates")
    assert after is not None
    assert after.version == before.version + 1 and after.updated_by == "promotion"
    assert after.mode_since > before.mode_since
    result = await analytics(ONBOARDING, "check_duplicates")
    assert (result.metrics.total_runs, result.metrics.consecutive_successes) == (0, 0)
    assert result.all_time_runs == 3


async def test_concurrent_evaluations_promote_one_hop_only(seeded: None) -> None:
    await set_config("create_crm_record", criteria=LOW_BAR)
    await back_date("create_crm_record")
    await add_runs("create_crm_record", "validation_required", ["completed"] * 3)

    results = await asyncio.gather(
        *(evaluate_after_outcome(WF, "create_crm_record") for _ in range(4))
    )

    assert sum(result is not None for result in results) == 1
    # validation_required → auto_monitored, never straight to always_auto.
    assert await mode_of("create_crm_record") == "auto_monitored"
    assert len(await events("create_crm_record")) == 1


async def test_runs_before_the_mode_started_or_in_another_mode_do_not_count(seeded: None) -> None:
    await set_config("check_duplicates", criteria=LOW_BAR)
    long_ago = datetime.now(UTC) - timedelta(days=2)
    await add_runs("check_duplicates", "auto_monitored", ["completed"] * 5, ended_at=long_ago)
    await set_config("check_duplicates", mode_since=datetime.now(UTC) - timedelta(days=1))
    # Ended after the change, but ran in the mode before it (say, it was reached earlier).
    await add_runs("check_duplicates", "always_auto", ["completed"] * 5)
    # Not counted at all: expired approvals and skipped steps.
    await add_runs("check_duplicates", "auto_monitored", ["expired", "skipped", "completed"])

    assert await evaluate_after_outcome(WF, "check_duplicates") is None
    result = await analytics(ONBOARDING, "check_duplicates")
    assert (result.metrics.total_runs, result.metrics.successes) == (1, 1)


async def test_a_failing_window_demotes_an_automatic_step_even_with_auto_promote_off(
    seeded: None,
) -> None:
    await set_config("check_duplicates", mode="always_auto", auto_promote=False, criteria=LOW_BAR)
    await back_date("check_duplicates")
    # Window 4 at a minimum of 75 %: 3 of 4 is exactly 75 % and holds.
    await add_runs("check_duplicates", "always_auto", ["completed", "failed", "completed"])
    assert await evaluate_after_outcome(WF, "check_duplicates") is None
    await add_runs("check_duplicates", "always_auto", ["completed"])
    assert await evaluate_after_outcome(WF, "check_duplicates") is None

    await add_runs("check_duplicates", "always_auto", ["rejected"])  # 2 of the last 4: 50 %
    change = await evaluate_after_outcome(WF, "check_duplicates")

    assert change is not None and change.kind == "demotion"
    assert await mode_of("check_duplicates") == "auto_monitored"
    (event,) = await events("check_duplicates")
    assert event["changed_by"] == "demotion"
    assert "50.0% over the last 4 runs is below 75.0%" in str(event["reason"])


async def test_always_manual_is_never_promoted_automatically(seeded: None) -> None:
    await set_config("setup_billing_account", criteria=LOW_BAR)
    await back_date("setup_billing_account")
    await add_runs("setup_billing_account", "always_manual", ["completed"] * 10)

    assert await evaluate_after_outcome(WF, "setup_billing_account") is None
    result = await analytics(ONBOARDING, "setup_billing_account")
    assert result.status.promotion_ready and not result.status.automatic_allowed
    assert result.estimated_days is None
    assert "never promoted automatically" in result.not_automatic_because


async def test_an_unconfigured_step_is_left_alone(database_url: str) -> None:
    assert await evaluate_after_outcome(WF, "check_duplicates") is None
    assert await ModeChangeEvent.count() == 0


async def test_a_hand_edited_row_with_an_unknown_mode_never_blocks_recording(
    seeded: None,
) -> None:
    await set_config("check_duplicates", mode="turbo")
    assert await evaluate_after_outcome(WF, "check_duplicates") is None


# --- admins' edits -------------------------------------------------------------------------------


def edit(version: int, **changes: object) -> StepConfigEdit:
    values: dict[str, object] = {
        "version": version, "impact": "write", "mode": "validation_required",
        "auto_promote": True, "criteria": {}, "reason": "",
    }  # fmt: skip
    values.update(changes)
    return StepConfigEdit(**values)  # type: ignore[arg-type]


async def test_saving_a_new_mode_restarts_counters_and_is_audited_as_manual(seeded: None) -> None:
    await back_date("create_crm_record")
    await add_runs("create_crm_record", "validation_required", ["completed", "failed"])

    saved = await save_config(
        ONBOARDING, "create_crm_record",
        edit(1, mode="always_auto", criteria={"min_successful_runs": 10}, reason="trusted now"),
        "ada",
    )  # fmt: skip

    assert (saved.mode, saved.overrides, saved.updated_by) == (
        "always_auto", {"min_successful_runs": 10}, "ada",
    )  # fmt: skip
    assert saved.version > 1
    (event,) = await events("create_crm_record")
    assert (event["kind"], event["changed_by"], event["reason"]) == ("manual", "ada", "trusted now")
    assert json.loads(str(event["metrics"]))["total_runs"] == 2
    assert (await analytics(ONBOARDING, "create_crm_record")).metrics.total_runs == 0


async def test_a_stale_version_is_refused_with_the_current_values(seeded: None) -> None:
    await save_config(ONBOARDING, "create_crm_record", edit(1, auto_promote=False), "ada")

    with pytest.raises(EditConflict) as refused:
        await save_config(
            ONBOARDING, "create_crm_record", edit(1, criteria={"demotion_window": 5}), "bob"
        )

    assert str(refused.value) == (
        "ada changed this step while you were editing; here are the current values"
    )
    assert refused.value.current.auto_promote is False
    current = await StepConfig.objects().get(StepConfig.step_id == "create_crm_record")
    assert current is not None and current.criteria in ({}, "{}")


async def test_invalid_edits_name_every_bad_field(seeded: None) -> None:
    with pytest.raises(InvalidStepConfig) as refused:
        await save_config(
            ONBOARDING, "setup_billing_account",
            edit(1, impact="critical", mode="always_auto",
                 criteria={"min_success_rate": 100.5, "demotion_window": 0}),
            "ada",
        )  # fmt: skip
    assert set(refused.value.errors) == {"mode", "min_success_rate", "demotion_window"}
    assert "always_auto is not allowed for a critical step" in refused.value.errors["mode"]

    with pytest.raises(InvalidStepConfig) as refused:
        await save_config(ONBOARDING, "create_crm_record", edit(1, mode="always_auto"), "ada")
    assert set(refused.value.errors) == {"reason"}
    assert await ModeChangeEvent.count() == 0


async def test_changing_impact_follows_the_new_path(seeded: None) -> None:
    saved = await save_config(
        ONBOARDING, "check_duplicates",
        edit(1, impact="external", mode="validation_required", reason="calls a partner API"),
        "ada",
    )  # fmt: skip
    assert (saved.impact, saved.mode) == ("external", "validation_required")
    assert saved.allowed_modes == ("validation_required", "auto_monitored")


# --- by hand -------------------------------------------------------------------------------------


async def test_promoting_by_hand_takes_one_hop_and_stops_at_the_ceiling(seeded: None) -> None:
    change, saved = await change_mode(ONBOARDING, "setup_billing_account", "ada")
    assert (change.from_mode, change.to_mode, saved.mode) == (
        "always_manual", "validation_required", "validation_required",
    )  # fmt: skip
    assert change.reason == "promoted by ada by hand"
    await change_mode(ONBOARDING, "setup_billing_account", "ada", reason="steady")

    with pytest.raises(ModeChangeRefused, match="auto_monitored is the top of the critical path"):
        await change_mode(ONBOARDING, "setup_billing_account", "ada")
    with pytest.raises(ModeChangeRefused, match="always_auto is not allowed for a critical step"):
        await change_mode(ONBOARDING, "setup_billing_account", "ada", to_mode="always_auto")

    change, _ = await change_mode(
        ONBOARDING, "setup_billing_account", "ada", direction="demote", reason="an incident"
    )
    assert (change.to_mode, change.kind) == ("validation_required", "demotion")
    kinds = [(e["kind"], e["to_mode"], e["reason"]) for e in await events("setup_billing_account")]
    assert kinds == [
        ("manual", "validation_required", "promoted by ada by hand"),
        ("manual", "auto_monitored", "steady"),
        ("manual", "validation_required", "an incident"),
    ]


async def test_postgresql_counts_a_step_record_as_the_domain_rule_does(seeded: None) -> None:
    """The metrics query agrees with `metrics_since` over every run: other modes, runs before
    the mode started, not-counted statuses, ties in end time (a failure sorts before a success
    at the same instant) and a window shorter than the record."""
    rng = random.Random(7)
    since = datetime.now(UTC) - timedelta(days=2)
    await set_config("check_duplicates", mode="auto_monitored", mode_since=since,
                     criteria={**LOW_BAR, "demotion_window": 7})  # fmt: skip
    statuses = ["completed", "failed", "rejected", "expired", "skipped", "cancelled"]
    runs: list[tuple[str, str, datetime]] = []
    for _ in range(300):
        # Whole minutes around `since`: many runs share an end time, some end before it.
        at = since + timedelta(minutes=rng.randint(-30, 240))
        mode = rng.choice(["auto_monitored"] * 4 + ["always_auto"])
        runs.append((rng.choices(statuses, weights=[12, 3, 1, 1, 1, 1])[0], mode, at))
    for status, mode, at in runs:
        await add_runs("check_duplicates", mode, [status], ended_at=at)
    # The newest failure ties with two successes (the streak counts them), and the window of 7
    # starts inside that tie (it must take the successes, as the domain's order does).
    last = max(at for *_, at in runs) + timedelta(minutes=1)
    tail = [("failed", last), ("completed", last), ("completed", last)]
    tail += [("completed", last + timedelta(minutes=1))] * 5
    for status, at in tail:
        await add_runs("check_duplicates", "auto_monitored", [status], ended_at=at)
        runs.append((status, "auto_monitored", at))

    settings = await step_configs.read(WF, "check_duplicates")
    assert settings is not None
    now = datetime.now(UTC)
    in_mode = [(status, at) for status, mode, at in runs if mode == "auto_monitored"]
    expected = metrics_since(in_mode, since, now)
    counted = await step_configs.record_in_mode(settings, now)

    assert expected.total_runs > 100 and expected.consecutive_successes == 7
    assert (counted.total_runs, counted.successes, counted.consecutive_successes) == (
        expected.total_runs, expected.successes, expected.consecutive_successes
    )  # fmt: skip
    assert counted.recent_runs == expected.recent_runs[-7:]
    assert counted.recent_success_rate(7) == expected.recent_success_rate(7)
    assert counted.days_in_mode == pytest.approx(expected.days_in_mode)
