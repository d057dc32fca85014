"""Bad input, never dropped and never mistaken: malformed `approve_step` signals (sent raw to the
real dev server, and through `temporal workflow signal`), text made only of invisible characters,
text in two Unicode forms, and durations in words."""

from __future__ import annotations

import asyncio
import json
import sys
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from app.db.tables import ApprovalDecision
from app.domain.approvals import ApprovalRequest, Approver, Decision, RefusalKind, refusal
from app.domain.identity import DEMO_USERS
from app.domain.modes import DeploymentMode, ImpactLevel
from app.domain.promotion import ModeChangeRefused, manual_change
from app.domain.step_config import StepConfigEdit, StepSettings, edit_problems
from app.executions.service import ExecutionService
from app.temporal.contracts import StepState, Timeline
from app.temporal.decision_desk import Waiting, wait_ended
from app.temporal.signal_input import BadSignal, read_signal
from tests.conftest import api_headers
from tests.helpers import CRM_CONFIRMATIONS, DEFINITIONS, PREMIUM, Engine, eventually, waiting_at
from tests.test_web_decisions import API, started_and_waiting

CRM, BILLING = "create_crm_record", "setup_billing_account"
APPROVAL = {"step_id": CRM, "user_id": "carol", "action": "approved",
            "confirmations": CRM_CONFIRMATIONS}  # fmt: skip
BOB = DEMO_USERS["bob"]
OBJECT = "the signal must be a JSON object with step_id, user_id and action"

# Each malformed payload, and the reason the timeline and the `decisions` table give for it.
MALFORMED: list[tuple[object, str]] = [
    ({k: v for k, v in APPROVAL.items() if k != "action"}, "missing action"),
    ({k: v for k, v in APPROVAL.items() if k != "user_id"}, "missing user_id"),
    ({k: v for k, v in APPROVAL.items() if k != "step_id"}, "missing step_id"),
    (None, f"{OBJECT}, got null"),
    ("approve it", f"{OBJECT}, got a string"),
    ([APPROVAL], f"{OBJECT}, got a list"),
    ({**APPROVAL, "confirmations": CRM_CONFIRMATIONS[0]},
     "confirmations must be a list of labels, got a string"),
    ({**APPROVAL, "confirmations": [1, 2]}, "confirmations must be a list of labels, got a list"),
    ({**APPROVAL, "user_id": 42}, "user_id must be text, got a number"),
    ({**APPROVAL, "roles": "approver"}, "roles must be a list of role names or null, got a string"),
    ({**APPROVAL, "action": "approved" * 3}, "action is too long: 24 characters, at most 16"),
    ({**APPROVAL, "step_id": "nope"}, "no step 'nope' in this execution"),
]  # fmt: skip


def crm_state(timeline: Timeline) -> StepState:
    return next(s for s in timeline.steps if s.id == CRM)


async def test_malformed_signals_are_shown_under_the_step_and_recorded_with_their_reason(
    engine: Engine, temporal_client: Client
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(engine, execution_id, CRM)
    handle = temporal_client.get_workflow_handle(execution_id)
    for payload, _ in MALFORMED:
        await handle.signal("approve_step", payload)

    timeline = await eventually(
        lambda: engine.timeline(execution_id),
        lambda t: len(crm_state(t).ignored_signals) == len(MALFORMED),
    )
    crm = crm_state(timeline)
    assert crm.status == "waiting_approval" and crm.decisions == []
    for line, (_, reason) in zip(crm.ignored_signals, MALFORMED, strict=True):
        assert line.endswith(f": {reason}"), (line, reason)
    # What could be read of it names the sender: here carol, whose action was missing.
    assert "· carol (no action): missing action" in crm.ignored_signals[0]

    # The step still takes a good signal.
    await handle.signal("approve_step", APPROVAL)
    timeline = await waiting_at(engine, execution_id, "setup_billing_account")
    assert [d.user_id for d in crm_state(timeline).decisions] == ["carol"]
    await engine.cancel(execution_id)

    records = await eventually(
        lambda: (
            ApprovalDecision.select(ApprovalDecision.accepted, ApprovalDecision.refusal)
            .where(ApprovalDecision.execution_id == execution_id)
            .order_by(ApprovalDecision.id)
        ),
        lambda rows: len(rows) == len(MALFORMED) + 1,
    )
    assert records == [{"accepted": False, "refusal": reason} for _, reason in MALFORMED] + [
        {"accepted": True, "refusal": ""}
    ]


async def test_the_cli_signal_with_confirmations_as_text_says_so_under_the_step(
    engine: Engine, temporal_client: Client
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM, BOB)
    await waiting_at(engine, execution_id, CRM)
    address = temporal_client.service_client.config.target_host
    payload = {**APPROVAL, "confirmations": "; ".join(CRM_CONFIRMATIONS)}
    cli = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "temporal"), "workflow", "signal",
        "--address", address, "--workflow-id", execution_id, "--name", "approve_step",
        "--input", json.dumps(payload),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(cli.communicate(), 30)
    assert cli.returncode == 0, output  # the CLI says it succeeded: the step must say otherwise
    timeline = await eventually(
        lambda: engine.timeline(execution_id), lambda t: bool(crm_state(t).ignored_signals)
    )
    [line] = crm_state(timeline).ignored_signals
    assert line.endswith("carol (approved): confirmations must be a list of labels, got a string")
    await engine.cancel(execution_id)


# --- invisible and differently composed text, through the API ---------------------------------

INVISIBLE = ["\u200b", "\u200b\u200d\ufeff", "\x00\x07", "\u2060 \t\n", "\u00a0"]


async def test_a_reason_of_invisible_characters_is_refused_like_an_empty_one(
    client: httpx.AsyncClient, engine: ExecutionService
) -> None:
    execution_id = await started_and_waiting(client, engine)
    reject = f"{API}/{execution_id}/steps/{CRM}/reject"
    for reason in ["", *INVISIBLE]:
        response = await client.post(reject, json={"reason": reason}, headers=api_headers("carol"))
        assert response.status_code == 422, (reason, response.text)
        assert response.json()["detail"] == "a rejection needs a reason"

    # Stored NFC: "Café" typed as e + combining acute is kept as the one-code-point é.
    decomposed = unicodedata.normalize("NFD", "  Café data is wrong \u200b ")
    response = await client.post(reject, json={"reason": decomposed}, headers=api_headers("carol"))
    assert response.status_code == 200, response.text
    [stored] = await ApprovalDecision.select(ApprovalDecision.reason).where(
        ApprovalDecision.execution_id == execution_id
    )
    assert stored["reason"] == "Café data is wrong \u200b"
    assert unicodedata.is_normalized("NFC", stored["reason"])
    timeline = await engine.timeline(execution_id)
    assert crm_state(timeline).summary == "Rejected by carol: Café data is wrong \u200b"


# --- the same, at the domain level --------------------------------------------------------------

PHRASE_REQUEST = ApprovalRequest(
    CRM, confirmations=["Prüfung erledigt"], typed_phrase="BESTÄTIGEN", four_eyes=True,
    started_by="bob",
)  # fmt: skip
CAROL = Approver("carol", frozenset({"approver"}))


@pytest.mark.parametrize("typed", ["", *INVISIBLE])
def test_a_typed_phrase_of_invisible_characters_is_refused(typed: str) -> None:
    decision = Decision(CRM, "carol", "approved", confirmations=["Prüfung erledigt"],
                        typed_confirmation=typed)  # fmt: skip
    refused = refusal(PHRASE_REQUEST, decision, CAROL)
    assert refused is not None and refused.kind == RefusalKind.INCOMPLETE
    assert refused.message == "type the phrase 'BESTÄTIGEN' exactly to approve"


def test_text_is_compared_in_one_unicode_form() -> None:
    nfd = unicodedata.normalize("NFD", "BESTÄTIGEN")
    label = unicodedata.normalize("NFD", "Prüfung erledigt")
    assert nfd != "BESTÄTIGEN"
    decision = Decision(CRM, "carol", "approved", confirmations=[label], typed_confirmation=nfd)
    assert refusal(PHRASE_REQUEST, decision, CAROL) is None
    stored = decision.normalised()
    assert stored.typed_confirmation == "BESTÄTIGEN" and stored.confirmations == [
        "Prüfung erledigt"
    ]


def test_read_signal_takes_a_good_payload_and_ignores_unknown_keys() -> None:
    decision = read_signal({**APPROVAL, "comment": "from a newer sender"})
    assert decision == Decision(CRM, "carol", "approved", confirmations=CRM_CONFIRMATIONS)
    bad = read_signal({**APPROVAL, "reason": None})
    assert isinstance(bad, BadSignal) and bad.reason == "reason must be text, got null"
    assert bad.decision == Decision(CRM, "carol", "approved")


@pytest.mark.parametrize("reason", INVISIBLE)
def test_a_mode_change_reason_of_invisible_characters_is_no_reason(reason: str) -> None:
    manual, validation = DeploymentMode.ALWAYS_MANUAL, DeploymentMode.VALIDATION_REQUIRED
    with pytest.raises(ModeChangeRefused, match="a reason is required"):
        manual_change(manual, ImpactLevel.CRITICAL, validation, reason)
    current = StepSettings("customer_onboarding", BILLING, ImpactLevel.CRITICAL, manual, False,
                           {}, datetime.now(UTC), 1, "ada")  # fmt: skip
    edit = StepConfigEdit(1, "critical", validation.value, False, reason=reason)
    assert "reason" in edit_problems(edit, current)
    stored = manual_change(manual, ImpactLevel.CRITICAL, validation, "Cafe\u0301 ")
    assert stored.reason == "Café"


# --- durations in words ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "on_timeout", "summary"),
    [
        (10, "expire", "Expired: no decision within 10 s"),
        (100, "expire", "Expired: no decision within 1 min 40 s"),
        (1800, "expire", "Expired: no decision within 30 min"),
        (5400, "reject", "Rejected by stepladder: No decision within 1 h 30 min"),
    ],
)
def test_an_expiry_states_its_duration_as_people_write_it(
    seconds: int, on_timeout: str, summary: str
) -> None:
    step = replace(DEFINITIONS["customer_onboarding"].step(CRM),
                   approval_timeout_seconds=seconds, on_timeout=on_timeout)  # fmt: skip
    state = StepState(CRM, "Create CRM Record", step.action, step.impact, "validation_required")
    waiting = Waiting(request=PHRASE_REQUEST, state=state)
    assert wait_ended(step, waiting)[1] == summary
