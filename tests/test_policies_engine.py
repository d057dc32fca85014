"""Safety policies on the real dev server (patch "policy-checks"): a breach denied (status
policy_denied, rule and values in the outcome, on the step and in PostgreSQL), a breach forcing
an always_auto step to wait for approval (the panel's critical warning; approved, it runs), a
daily limit summed over two executions of the day, allowlists, and the shipped policy_check
definition through the JSON API."""

from __future__ import annotations

from typing import Any

import httpx
from temporalio.client import Client

from app.db.tables import DemoTask, PolicyCheckRecord, StepRun
from app.domain.definitions import WorkflowDefinition, parse_definition
from app.domain.identity import DEMO_USERS
from app.settings import Settings
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES
from app.temporal.contracts import StepState, Timeline
from tests.conftest import api_headers, signed_in
from tests.helpers import Engine, eventually, finished, waiting_at
from tests.test_steps_web import csrf_token

ADA, BOB, CAROL = DEMO_USERS["ada"], DEMO_USERS["bob"], DEMO_USERS["carol"]
API = "/api/workflows/executions"


def payments(workflow_id: str, *policy: dict[str, Any]) -> WorkflowDefinition:
    """Charge (an automatic step whose params carry `amount`) → receipt."""
    raw = {
        "id": workflow_id,
        "name": workflow_id.replace("_", " ").title(),
        "inputs": [{"name": "amount", "type": "integer"},
                   {"name": "email", "required": False, "default": "ada@example.com"},
                   {"name": "phone", "required": False, "default": "+15550100"}],
        "steps": [
            {"id": "charge_payment", "name": "Charge payment", "action": "note",
             "impact": "accessory", "mode": "always_auto",
             "params": {"amount": "{{ input.amount }}", "email": "{{ input.email }}",
                        "phone": "{{ input.phone }}", "message": "charged"}},
            {"id": "receipt", "name": "Receipt", "action": "note", "impact": "accessory",
             "params": {"message": "receipt sent"}},
        ],
        "policy": list(policy),
    }  # fmt: skip
    return parse_definition(raw, f"{workflow_id}.json", ACTION_NAMES)


async def engine_for(
    temporal_client: Client, settings: Settings, definition: WorkflowDefinition
) -> Engine:
    await seed_step_configs([definition])
    return Engine(temporal_client, {definition.id: definition}, settings.task_queue)


def step(timeline: Timeline, step_id: str) -> StepState:
    return next(s for s in timeline.steps if s.id == step_id)


async def checks_recorded(execution_id: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await PolicyCheckRecord.select()
        .where(PolicyCheckRecord.execution_id == execution_id)
        .order_by(PolicyCheckRecord.rule_id)
        .run()
    )
    return rows


async def test_a_breach_with_deny_stops_the_execution_as_policy_denied(
    temporal_client: Client, settings: Settings, worker: Any, database_url: str
) -> None:
    definition = payments("pay_deny", {"id": "max_payment", "step": "charge_payment",
                                       "field": "amount", "max": 5000})  # fmt: skip
    engine = await engine_for(temporal_client, settings, definition)
    execution_id = await engine.start("pay_deny", {"amount": 9000}, BOB)
    timeline = await finished(engine, execution_id)

    assert timeline.status == "policy_denied"
    assert "max_payment: amount 9,000 is above 5,000" in timeline.outcome
    charge = step(timeline, "charge_payment")
    assert charge.status == "policy_denied" and "max_payment" in charge.summary
    assert charge.result == {}  # the action never ran
    [check] = charge.policy_checks
    assert (check.rule, check.field, check.value, check.passed, check.action) == (
        "max_payment", "amount", 9000, False, "deny",
    )  # fmt: skip
    assert check.limit == "max 5,000"
    assert step(timeline, "receipt").status == "pending"
    [row] = await checks_recorded(execution_id)
    assert (row["rule_id"], row["step_id"], row["value"], row["amount"], row["passed"]) == (
        "max_payment", "charge_payment", "9000", 9000.0, False,
    )  # fmt: skip
    assert row["action"] == "deny" and "above 5,000" in row["message"]
    recorded = await eventually(
        lambda: StepRun.select(StepRun.step_id, StepRun.status)
        .where(StepRun.execution_id == execution_id).run(),
        lambda rows: any(r["status"] == "policy_denied" for r in rows),
    )  # fmt: skip
    assert {r["step_id"] for r in recorded} == {"charge_payment"}
    # Read from the records (what pages show when no worker answers), the checks are there too.
    fresh = Engine(temporal_client, {definition.id: definition}, settings.task_queue)
    from_records = await fresh._unconfirmed(execution_id)  # noqa: SLF001 — the records path
    assert from_records.source == "records" and from_records.status == "policy_denied"
    [read] = step(from_records, "charge_payment").policy_checks
    assert (read.rule, read.value, read.passed, read.action) == (
        "max_payment",
        "9000",
        False,
        "deny",
    )

    # Within the limit, the same rule passes and is recorded as passed.
    ok_id = await engine.start("pay_deny", {"amount": 4000}, CAROL)
    ok = await finished(engine, ok_id)
    assert ok.status == "completed" and step(ok, "charge_payment").policy_checks[0].passed
    assert (await checks_recorded(ok_id))[0]["passed"] is True


async def test_a_breach_with_require_approval_makes_an_always_auto_step_wait(
    temporal_client: Client, settings: Settings, client: httpx.AsyncClient
) -> None:
    definition = payments("pay_review", {"id": "max_payment", "field": "amount", "max": 5000,
                                         "on_breach": "require_approval"})  # fmt: skip
    engine = await engine_for(temporal_client, settings, definition)
    small = await engine.start("pay_review", {"amount": 100}, CAROL)
    assert (await finished(engine, small)).status == "completed"  # no breach: no wait

    execution_id = await engine.start("pay_review", {"amount": 9000}, CAROL)
    timeline = await waiting_at(engine, execution_id, "charge_payment")
    charge = step(timeline, "charge_payment")
    assert charge.mode == "always_auto"
    assert charge.policy_checks[0].action == "require_approval"
    assert charge.preview is not None
    first = charge.preview.impact[0]
    assert first.severity == "critical"
    assert "max_payment: amount 9,000 is above 5,000" in first.message

    page = await signed_in(client, settings, "bob").get(f"/executions/{execution_id}")
    assert page.status_code == 200
    html = page.text
    assert "Policy breach — approval required: max_payment: amount 9,000 is above 5,000" in html
    assert "Policy checks" in html
    inbox = await client.get("/api/workflows/approvals", headers=api_headers("bob"))
    assert inbox.status_code == 200 and execution_id in inbox.text  # waits like any approval

    await engine.decide(execution_id, "charge_payment", BOB, "approved")
    done = await finished(engine, execution_id)
    assert done.status == "completed"
    assert step(done, "charge_payment").result == {"message": "charged"}


async def test_a_daily_limit_sums_this_workflows_executions_of_the_day(
    temporal_client: Client, settings: Settings, worker: Any, database_url: str
) -> None:
    definition = payments("pay_daily", {"id": "daily_spend", "step": "charge_payment",
                                        "field": "amount", "daily_max": 1000,
                                        "time_zone": "Europe/Paris"})  # fmt: skip
    engine = await engine_for(temporal_client, settings, definition)
    first = await engine.start("pay_daily", {"amount": 600}, BOB)
    assert (await finished(engine, first)).status == "completed"
    second = await engine.start("pay_daily", {"amount": 600}, CAROL)
    denied = await finished(engine, second)
    assert denied.status == "policy_denied"
    assert "daily_spend: amount 600 is above the daily 1,000" in denied.outcome
    assert "(today 1,200 with 600 before)" in denied.outcome
    # A denied value was not spent: a third of 400 still fits the day (600 + 400).
    third = await engine.start("pay_daily", {"amount": 400}, ADA)
    assert (await finished(engine, third)).status == "completed"


async def test_allowlists_of_email_domains_and_exact_phone_numbers(
    temporal_client: Client, settings: Settings, worker: Any, database_url: str
) -> None:
    definition = payments(
        "pay_allow",
        {"id": "known_domains", "field": "email", "allow_domains": ["example.com"]},
        {"id": "known_phones", "field": "phone", "allow": ["+15550100", "+15550101"]},
    )
    engine = await engine_for(temporal_client, settings, definition)
    good = await engine.start("pay_allow", {"amount": 1, "phone": "+15550101"}, BOB)
    timeline = await finished(engine, good)
    assert timeline.status == "completed"
    checks = step(timeline, "charge_payment").policy_checks
    assert [(c.rule, c.passed) for c in checks] == [("known_domains", True), ("known_phones", True)]
    assert step(timeline, "receipt").policy_checks == []  # its params have neither field

    bad = await engine.start(
        "pay_allow", {"amount": 1, "email": "eve@evil.test", "phone": "+15559999"}, CAROL
    )
    denied = await finished(engine, bad)
    assert denied.status == "policy_denied"
    assert "known_domains: email eve@evil.test is not in example.com" in denied.outcome
    assert "known_phones: phone +15559999 is not one of +15550100, +15550101" in denied.outcome
    assert [r["passed"] for r in await checks_recorded(bad)] == [False, False]


async def test_the_policy_check_definition_end_to_end_through_the_json_api(
    client: httpx.AsyncClient, engine: Engine, settings: Settings
) -> None:
    started = await client.post(f"{API}/start", headers=api_headers("carol"), json={
        "workflow_id": "policy_check", "workflow_data": {"task": "Water the plants"}})  # fmt: skip
    assert started.status_code == 201, started.text
    execution_id = started.json()["execution_id"]
    await waiting_at(engine, execution_id, "approve_task")
    approved = await client.post(f"{API}/{execution_id}/steps/approve_task/approve",
                                 headers=api_headers("bob"), json={})  # fmt: skip
    assert approved.status_code == 200, approved.text
    await finished(engine, execution_id)
    body = (await client.get(f"{API}/{execution_id}", headers=api_headers("vera"))).json()
    assert body["status"] == "completed"
    first = body["steps"][0]
    assert first["policy_checks"][0]["rule"] == "no_forbidden"
    assert first["policy_checks"][0]["passed"] is True
    rows = await DemoTask.select(DemoTask.task, DemoTask.requested_by).run()
    assert rows == [{"task": "Water the plants", "requested_by": "carol"}]

    forbidden = await client.post(f"{API}/start", headers=api_headers("carol"), json={
        "workflow_id": "policy_check", "workflow_data": {"task": "Forbidden: drop prod"}})  # fmt: skip
    assert forbidden.status_code == 201, forbidden.text
    denied_id = forbidden.json()["execution_id"]
    await finished(engine, denied_id)
    denied = (await client.get(f"{API}/{denied_id}", headers=api_headers("vera"))).json()
    assert denied["status"] == "policy_denied"
    assert "no_forbidden: task Forbidden: drop prod begins with 'forbidden'" in denied["outcome"]
    assert [s["status"] for s in denied["steps"]] == ["policy_denied", "pending", "pending"]
    assert denied["steps"][0]["policy_checks"][0]["action"] == "deny"
    assert len(await DemoTask.select().run()) == 1  # the forbidden task never ran

    # Pages say it in words and colour, like failed.
    browser = signed_in(client, settings, "vera")
    page = (await browser.get(f"/executions/{denied_id}")).text
    assert "This execution was denied by a safety policy: Policy check denied by policy" in page
    assert 'class="status status-policy_denied"' in page and "Policy denied" in page
    assert "Denied</strong> — no_forbidden: task Forbidden: drop prod begins with" in page
    listing = (await browser.get("/executions?status=policy_denied")).text
    assert denied_id in listing and execution_id not in listing and "Policy denied" in listing
    form = await signed_in(client, settings, "bob").get("/workflows/policy_check")
    assert form.status_code == 200 and 'name="task"' in form.text
    assert "Safety policies" in form.text
    assert (
        "no_forbidden</strong>: task of Policy check — not beginning with &#39;forbidden&#39;"
        in (form.text)
    )
    assert "on breach: deny" in form.text
    detail = (await client.get("/api/workflows/policy_check", headers=api_headers("vera"))).json()
    assert detail["policy"][0]["id"] == "no_forbidden"
    assert detail["policy"][0]["deny_prefix"] == "forbidden"
    posted = await client.post(
        "/workflows/policy_check/executions",
        data={"task": "forbidden from the form", "_csrf_token": csrf_token(form.text)},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    from_form = posted.headers["location"].rsplit("/", 1)[1]
    assert (await finished(engine, from_form)).status == "policy_denied"


async def test_a_denied_branch_cancels_the_steps_running_beside_it(
    temporal_client: Client, settings: Settings, worker: Any, database_url: str
) -> None:
    raw = {
        "id": "pay_parallel", "name": "Pay parallel", "inputs": [{"name": "amount"}],
        "policy": [{"id": "max_payment", "step": "charge", "field": "amount", "max": 10}],
        "steps": [
            {"id": "review", "name": "Review", "action": "note", "impact": "write",
             "depends_on": [], "params": {"message": "reviewed"}},
            {"id": "charge", "name": "Charge", "action": "note", "impact": "accessory",
             "depends_on": [], "params": {"amount": "{{ input.amount }}"}},
        ],
    }  # fmt: skip
    definition = parse_definition(raw, "pay_parallel.json", ACTION_NAMES)
    engine = await engine_for(temporal_client, settings, definition)
    execution_id = await engine.start("pay_parallel", {"amount": "11"}, BOB)
    timeline = await finished(engine, execution_id)
    assert timeline.status == "policy_denied"
    assert timeline.outcome == "Charge denied by policy: max_payment: amount 11 is above 10"
    assert step(timeline, "review").status == "cancelled"  # it was waiting for approval
    assert step(timeline, "review").summary == "Cancelled: Charge policy denied"
