"""Notifications with parallel waits: each waiting branch sends its own waiting notice and its
own outcome (a real HTTP receiver; the Temporal dev server runs the execution)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from temporalio.client import Client

from app.domain.definitions import WorkflowDefinition, parse_definition
from app.domain.identity import DEMO_USERS
from app.steps.seeding import seed_step_configs
from app.steps.service import evaluate_after_outcome
from app.temporal.actions import ACTION_NAMES
from app.temporal.worker import build_worker
from tests.helpers import Engine, eventually, waiting_at
from tests.receivers import HttpReceiver, MailReceiver, http_receiver, smtp_receiver
from tests.test_notifications import notifier


def _gate(step_id: str) -> dict[str, object]:
    return {"id": step_id, "name": step_id.title(), "action": "send_email", "impact": "write",
            "depends_on": [], "notify": {"channels": ["audit"]},
            "params": {"to": "{{ input.email }}", "subject": step_id}}  # fmt: skip


GATES: WorkflowDefinition = parse_definition(
    {"id": "notified_gates", "name": "Notified gates",
     "inputs": [{"name": "email", "type": "email"}], "steps": [_gate("crm"), _gate("billing")]},
    "notified_gates.yaml", ACTION_NAMES,
)  # fmt: skip


@pytest.fixture
async def engine_and_hooks(
    temporal_client: Client, database_url: str
) -> AsyncIterator[tuple[Engine, HttpReceiver]]:
    with http_receiver() as http, smtp_receiver() as mail:
        receivers: tuple[HttpReceiver, MailReceiver] = (http, mail)
        await seed_step_configs([GATES])
        queue = f"parallel-notify-{uuid.uuid4().hex[:8]}"
        async with build_worker(temporal_client, queue, on_outcome=evaluate_after_outcome,
                                fault_injection=False, notifier=notifier(*receivers)):  # fmt: skip
            yield Engine(temporal_client, {GATES.id: GATES}, queue), http


async def test_each_parallel_wait_sends_its_own_notices(
    engine_and_hooks: tuple[Engine, HttpReceiver],
) -> None:
    engine, http = engine_and_hooks

    def sent() -> list[tuple[str, str]]:
        return sorted((r.json["step_id"], r.json["kind"]) for r in http.at("/hook"))

    execution_id = await engine.start(GATES.id, {"email": "p@example.com"}, DEMO_USERS["bob"])
    await waiting_at(engine, execution_id, "crm")
    await waiting_at(engine, execution_id, "billing")
    await eventually(lambda: asyncio.sleep(0, sent()), lambda s: len(s) == 2)
    assert sent() == [("billing", "waiting"), ("crm", "waiting")]
    await engine.decide(execution_id, "billing", DEMO_USERS["carol"], "approved")
    await eventually(lambda: asyncio.sleep(0, sent()), lambda s: ("billing", "outcome") in s)
    await engine.decide(execution_id, "crm", DEMO_USERS["bob"], "rejected", reason="no")
    await eventually(lambda: asyncio.sleep(0, sent()), lambda s: len(s) == 4)
    assert sent() == [("billing", "outcome"), ("billing", "waiting"),
                      ("crm", "outcome"), ("crm", "waiting")]  # fmt: skip
    outcomes = {r.json["step_id"]: r.json["outcome"] for r in http.at("/hook")
                if r.json["kind"] == "outcome"}  # fmt: skip
    assert outcomes == {"billing": "approved", "crm": "rejected"}
