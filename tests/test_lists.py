"""The list pages without JavaScript: the overview, the filtered executions list, the inbox."""

from __future__ import annotations

import httpx

from app.db.tables import StepConfig, StepRun
from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.settings import Settings
from tests.conftest import signed_in
from tests.helpers import eventually, finished, waiting_at

BOB, CAROL = DEMO_USERS["bob"], DEMO_USERS["carol"]
BASIC = {"name": "Ada Lovelace", "email": "ada@example.com", "tier": "basic"}
CRM_BASIC = ["I have reviewed the customer data", "I confirm this is for PRODUCTION"]


async def recorded_waiting(execution_id: str, step_id: str) -> None:
    """The engine records the waiting step from an activity, just after the timeline shows it."""
    await eventually(
        lambda: StepRun.exists().where(
            (StepRun.run_key == f"{execution_id}/{step_id}")
            & (StepRun.status == "waiting_approval")
        ),
        bool,
    )


async def waiting_in_the_inbox(engine: ExecutionService) -> str:
    """An execution bob started, its Create CRM Record step recorded as waiting."""
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    await recorded_waiting(execution_id, "create_crm_record")
    return execution_id


async def one_finished_one_waiting(engine: ExecutionService) -> tuple[str, str]:
    """Two executions of bob's: one run straight through, one waiting at Create CRM Record."""
    await StepConfig.update({StepConfig.mode: "auto_monitored"}).where(
        StepConfig.step_id.is_in(["create_crm_record", "setup_billing_account"])
    )
    done_id = await engine.start("customer_onboarding", BASIC, BOB)
    await finished(engine, done_id)
    await StepConfig.update({StepConfig.mode: "validation_required"}).where(
        StepConfig.step_id == "create_crm_record"
    )
    waiting_id = await engine.start("customer_onboarding", {**BASIC, "email": "w@example.com"}, BOB)
    await waiting_at(engine, waiting_id, "create_crm_record")
    return done_id, waiting_id


async def test_the_inbox_lists_waiting_steps_for_approvers_with_a_link_to_the_step(
    client: httpx.AsyncClient, settings: Settings, engine: ExecutionService
) -> None:
    execution_id = await waiting_in_the_inbox(engine)

    page = await signed_in(client, settings, "carol").get("/approvals")

    assert page.status_code == 200
    assert f'href="/executions/{execution_id}#step-create_crm_record"' in page.text
    assert "Create CRM Record" in page.text and "Waiting for approval" in page.text
    assert "started by bob" in page.text
    assert 'sse-connect="/approvals/events"' in page.text


async def test_a_viewer_has_nothing_to_decide(
    client: httpx.AsyncClient, settings: Settings, engine: ExecutionService
) -> None:
    execution_id = await waiting_in_the_inbox(engine)

    page = await signed_in(client, settings, "vera").get("/approvals")

    assert execution_id not in page.text
    assert "Nothing is waiting for your approval." in page.text


async def test_the_starter_is_told_about_four_eyes_on_a_critical_step(
    client: httpx.AsyncClient, settings: Settings, engine: ExecutionService
) -> None:
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    await engine.decide(
        execution_id, "create_crm_record", CAROL, "approved", confirmations=CRM_BASIC
    )
    await waiting_at(engine, execution_id, "setup_billing_account")
    await recorded_waiting(execution_id, "setup_billing_account")

    mine = await signed_in(client, settings, "bob").get("/approvals")
    theirs = await signed_in(client, settings, "carol").get("/approvals")

    assert "Setup Billing Account" in mine.text and "Four eyes" in mine.text
    assert "Setup Billing Account" in theirs.text and "Four eyes" not in theirs.text


async def test_an_empty_inbox_says_so(
    client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    page = await signed_in(client, settings, "carol").get("/approvals")
    assert "Nothing is waiting for your approval." in page.text


async def test_executions_filter_by_status_workflow_and_waiting(
    client: httpx.AsyncClient, settings: Settings, engine: ExecutionService
) -> None:
    done_id, waiting_id = await one_finished_one_waiting(engine)
    await recorded_waiting(waiting_id, "create_crm_record")
    await eventually(
        lambda: signed_in(client, settings, "vera").get("/executions?status=completed"),
        lambda page: done_id in page.text,
    )
    browse = signed_in(client, settings, "vera")

    everything = (await browse.get("/executions")).text
    completed = (await browse.get("/executions?status=completed")).text
    running = (await browse.get("/executions?status=running&workflow=customer_onboarding")).text
    waiting = (await browse.get("/executions?waiting=1")).text
    none_match = (await browse.get("/executions?status=failed")).text
    unknown = (await browse.get("/executions?status=bogus&workflow=nope")).text

    assert done_id in everything and waiting_id in everything
    assert done_id in completed and waiting_id not in completed
    assert waiting_id in running and done_id not in running
    assert waiting_id in waiting and done_id not in waiting and "waiting for approval" in waiting
    assert "No executions match these filters." in none_match
    assert done_id in unknown and waiting_id in unknown, "unknown values do not filter"
    assert '<option value="completed" selected>' in completed


async def test_the_filter_form_gets_only_the_rows_when_htmx_asks(
    client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    browse = signed_in(client, settings, "vera")
    htmx = {"hx-request": "true", "hx-target": "execution-rows"}

    rows = await browse.get("/executions?status=running", headers=htmx)
    restore = await browse.get(
        "/executions?status=running", headers={**htmx, "hx-history-restore-request": "true"}
    )

    assert "<html" not in rows.text and "No executions match these filters." in rows.text
    assert "<html" in restore.text, "a history restore needs the whole page"


async def test_the_overview_has_its_three_sections_with_empty_states(
    client: httpx.AsyncClient, settings: Settings, database_url: str
) -> None:
    page = await signed_in(client, settings, "carol").get("/")

    assert page.status_code == 200
    for heading in ("Approvals waiting for me", "Running executions", "Recent outcomes"):
        assert heading in page.text
    assert "Nothing is waiting for your approval." in page.text
    assert "Nothing is running." in page.text
    assert "No execution has finished yet." in page.text
