"""Notifications against real receivers: a local HTTP server for the generic webhook and Slack,
aiosmtpd for email; the Temporal dev server runs the executions."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from temporalio.client import Client

from app.db.tables import NotificationDelivery
from app.domain.definitions import WorkflowDefinition
from app.domain.identity import DEMO_USERS
from app.domain.notifications import NotifySpec, parse_channels
from app.settings import Settings
from app.steps.seeding import seed_step_configs
from app.steps.service import evaluate_after_outcome
from app.temporal.notifying import NotificationActivities, SmtpServer
from app.temporal.worker import build_worker
from tests.conftest import signed_in
from tests.helpers import CRM_CONFIRMATIONS, DEFINITIONS, PREMIUM, Engine, eventually, waiting_at
from tests.receivers import HttpReceiver, MailReceiver, http_receiver, smtp_receiver
from tests.test_worker_restart import worker_process

SECRET = "hook-secret-for-tests"


@pytest.fixture
def receivers() -> Iterator[tuple[HttpReceiver, MailReceiver]]:
    with http_receiver() as http, smtp_receiver() as mail:
        yield http, mail


def channels_json(http: HttpReceiver) -> dict[str, Any]:
    return {
        "audit": {"type": "webhook", "url": f"{http.url}/hook", "secret_env": "TEST_HOOK_SECRET"},
        "ops": {"type": "slack", "url": f"{http.url}/slack"},
        "finance": {"type": "email", "to": ["finance@example.com"]},
    }


def notifying(definition: WorkflowDefinition, **spec: Any) -> WorkflowDefinition:
    """The definition with `notify:` on its CRM step (the one that waits for validation)."""
    notify = NotifySpec(**{"channels": ["audit", "ops", "finance"], **spec})
    steps = [
        replace(s, notify=notify) if s.id == "create_crm_record" else s for s in definition.steps
    ]
    return replace(definition, steps=steps)


def notifier(http: HttpReceiver, mail: MailReceiver) -> NotificationActivities:
    return NotificationActivities(
        parse_channels(channels_json(http)),
        public_url="https://stepladder.example.com/sl",
        smtp=SmtpServer(host=mail.host, port=mail.port),
        environ={"TEST_HOOK_SECRET": SECRET},
    )


@pytest.fixture
async def queue(
    temporal_client: Client, database_url: str, receivers: tuple[HttpReceiver, MailReceiver]
) -> AsyncIterator[str]:
    """A worker of its own with the receivers as channels, on a task queue of its own."""
    await seed_step_configs(DEFINITIONS.values())
    name = f"notify-{uuid.uuid4().hex[:8]}"
    worker = build_worker(temporal_client, name, on_outcome=evaluate_after_outcome,
                          fault_injection=False, notifier=notifier(*receivers))  # fmt: skip
    async with worker:
        yield name


def kinds(http: HttpReceiver) -> list[str]:
    return [r.json["kind"] for r in http.at("/hook")]


async def test_a_waiting_step_tells_every_channel_once_and_then_its_outcome(
    temporal_client: Client, queue: str, receivers: tuple[HttpReceiver, MailReceiver]
) -> None:
    http, mail = receivers
    definitions = {"customer_onboarding": notifying(DEFINITIONS["customer_onboarding"])}
    engine = Engine(temporal_client, definitions, queue)
    execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(engine, execution_id, "create_crm_record")
    # The three channels are told side by side: wait for all of them.
    await eventually(lambda: asyncio.sleep(0, len(mail.messages)), lambda n: n >= 1)
    await eventually(lambda: asyncio.sleep(0, len(http.requests)), lambda n: n >= 2)

    [hook] = http.at("/hook")
    expected = "sha256=" + hmac.new(SECRET.encode(), hook.body, hashlib.sha256).hexdigest()
    assert hook.headers["X-Stepladder-Signature"] == expected
    assert hook.json["kind"] == "waiting" and hook.json["key_input"] == "John Doe"
    link = f"https://stepladder.example.com/sl/executions/{execution_id}#step-create_crm_record"
    assert hook.json["link"] == link
    assert hook.json["summary"].startswith("CREATE") and hook.json["expires_at"]

    [slack] = http.at("/slack")
    blocks = slack.json["blocks"]
    assert blocks[0]["text"]["text"] == "Approval needed: Create CRM Record (Customer Onboarding)"
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    for shown in ("John Doe", "CREATE", "write · production", "Expires", "Customer Onboarding"):
        assert shown in fields
    assert (
        blocks[2]["elements"][0]["url"] == link
        and blocks[2]["elements"][0]["text"]["text"] == "Open"
    )

    [email] = mail.messages
    assert email["Subject"] == "Approval needed: Create CRM Record (Customer Onboarding)"
    assert email["To"] == "finance@example.com"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in email.walk()
             if not part.is_multipart()}  # fmt: skip
    assert "For: John Doe" in parts["text/plain"] and link in parts["text/plain"]
    assert f"href='{link}'" in parts["text/html"]

    await engine.decide(execution_id, "create_crm_record", DEMO_USERS["bob"], "approved",
                        confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await eventually(lambda: asyncio.sleep(0, kinds(http)), lambda k: "outcome" in k)
    outcome = http.at("/hook")[-1].json
    assert outcome["outcome"] == "approved" and outcome["decided_by"] == "bob"
    assert outcome["title"] == "Approved by bob: Create CRM Record (Customer Onboarding)"
    await eventually(lambda: asyncio.sleep(0, len(mail.messages)), lambda n: n == 2)
    assert kinds(http) == ["waiting", "outcome"]  # the billing step declares no notify
    await engine.cancel(execution_id)


async def test_a_failing_channel_is_shown_on_the_step_and_the_execution_goes_on(
    temporal_client: Client, queue: str, receivers: tuple[HttpReceiver, MailReceiver]
) -> None:
    http, _ = receivers
    http.status["/slack"] = 404
    definitions = {"customer_onboarding": notifying(DEFINITIONS["customer_onboarding"])}
    engine = Engine(temporal_client, definitions, queue)
    execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])

    def slack_failure(timeline: Any) -> list[str]:
        return next(s for s in timeline.steps if s.id == "create_crm_record").notices

    notices = await eventually(
        lambda: engine.timeline(execution_id), lambda t: bool(slack_failure(t)), timeout=30
    )
    assert slack_failure(notices) == ["ops notification (waiting) failed 3 times: 404 Not Found"]
    assert len(http.at("/slack")) == 3 and len(http.at("/hook")) == 1
    row = await NotificationDelivery.select().where(NotificationDelivery.channel == "ops").first()
    assert row is not None and row["status"] == "failed" and row["attempts"] == 3

    await engine.decide(execution_id, "create_crm_record", DEMO_USERS["bob"], "approved",
                        confirmations=CRM_CONFIRMATIONS)  # fmt: skip
    await waiting_at(engine, execution_id, "setup_billing_account")  # it went on
    await engine.cancel(execution_id)


async def test_no_notice_is_sent_twice_across_a_worker_restart(
    temporal_client: Client, settings: Settings, database_url: str,
    receivers: tuple[HttpReceiver, MailReceiver], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    http, mail = receivers
    await seed_step_configs(DEFINITIONS.values())
    monkeypatch.setenv("NOTIFY_CHANNELS", json.dumps(channels_json(http)))
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    monkeypatch.setenv("SMTP_HOST", mail.host)
    monkeypatch.setenv("SMTP_PORT", str(mail.port))
    queue = f"notify-restart-{uuid.uuid4().hex[:8]}"
    definitions = {"customer_onboarding": notifying(DEFINITIONS["customer_onboarding"])}
    engine = Engine(temporal_client, definitions, queue)

    async with worker_process(settings, queue) as first:
        execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
        await waiting_at(engine, execution_id, "create_crm_record")
        await eventually(lambda: asyncio.sleep(0, len(mail.messages)), lambda n: n == 1)
        await eventually(lambda: asyncio.sleep(0, len(http.requests)), lambda n: n == 2)
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.wait(), 10)

    async with worker_process(settings, queue):
        await engine.decide(execution_id, "create_crm_record", DEMO_USERS["bob"], "approved",
                            confirmations=CRM_CONFIRMATIONS)  # fmt: skip
        await waiting_at(engine, execution_id, "setup_billing_account")
        await eventually(lambda: asyncio.sleep(0, kinds(http)), lambda k: "outcome" in k)
        await eventually(lambda: asyncio.sleep(0, len(mail.messages)), lambda n: n == 2)
        await engine.cancel(execution_id)

    assert kinds(http) == ["waiting", "outcome"]
    assert [r.json["blocks"][0]["text"]["text"].split(":")[0] for r in http.at("/slack")] == [
        "Approval needed", "Approved by bob"]  # fmt: skip
    assert [m["Subject"].split(":")[0] for m in mail.messages] == [
        "Approval needed",
        "Approved by bob",
    ]


async def test_the_timeline_page_shows_an_undelivered_notification(
    client: Any,
    settings: Settings,
    temporal_client: Client,
    queue: str,
    receivers: tuple[HttpReceiver, MailReceiver],
) -> None:
    http, _ = receivers
    http.status["/hook"] = 500
    definitions = {"customer_onboarding": notifying(DEFINITIONS["customer_onboarding"],
                                                    channels=["audit"])}  # fmt: skip
    engine = Engine(temporal_client, definitions, queue)
    execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await eventually(
        lambda: engine.timeline(execution_id),
        lambda t: any(s.notices for s in t.steps),
        timeout=30,
    )
    page = await signed_in(client, settings, "bob").get(f"/executions/{execution_id}")
    assert (
        "Notification not delivered: audit notification (waiting) failed 3 times: 500" in page.text
    )
    await engine.cancel(execution_id)
