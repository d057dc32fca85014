"""Step configurations are seeded from the definitions without overwriting later changes."""

from __future__ import annotations

from app.db.tables import StepConfig
from app.definitions.loader import load_definitions
from app.settings import REPO_ROOT
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES

DEFINITIONS = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)


async def test_seeding_gives_every_step_its_impact_and_default_mode(database_url: str) -> None:
    # customer_onboarding's steps (the other shipped definitions seed theirs the same way)
    assert await seed_step_configs([DEFINITIONS["customer_onboarding"]]) == 5
    rows = await StepConfig.select(StepConfig.step_id, StepConfig.impact, StepConfig.mode).order_by(
        StepConfig.id
    )
    assert [(r["step_id"], r["impact"], r["mode"]) for r in rows] == [
        ("validate_email", "accessory", "always_auto"),
        ("check_duplicates", "read", "auto_monitored"),
        ("create_crm_record", "write", "validation_required"),
        ("setup_billing_account", "critical", "always_manual"),
        ("send_welcome_email", "accessory", "always_auto"),
    ]


async def test_seeding_again_keeps_an_admins_change(database_url: str) -> None:
    await seed_step_configs(DEFINITIONS.values())
    await StepConfig.update({StepConfig.mode: "always_auto"}).where(
        StepConfig.step_id == "create_crm_record"
    )
    assert await seed_step_configs(DEFINITIONS.values()) == 0
    row = await StepConfig.objects().get(StepConfig.step_id == "create_crm_record")
    assert row is not None and row.mode == "always_auto"
