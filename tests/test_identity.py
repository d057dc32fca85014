"""User ids compare canonically (trimmed, case-folded) wherever identity decides — four eyes,
N distinct approvals, the starter, the inbox, the users a signal is judged by — while names are
shown as given. The domain rules, then the whole path in proxy mode."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from app.approvals.inbox import WaitingApproval
from app.domain.approvals import (
    ApprovalRequest,
    Approver,
    Decision,
    RefusalKind,
    approvals_complete,
    may_approve,
    refusal,
)
from app.domain.identity import (
    DEMO_USERS,
    Role,
    User,
    canonical_user_id,
    same_user,
    user_from_groups,
    with_implied,
)
from app.settings import REPO_ROOT, Settings
from app.web.app import create_app
from tests.conftest import api_headers, http_client
from tests.helpers import CRM_CONFIRMATIONS, PREMIUM, Engine, eventually, finished, waiting_at
from tests.test_web import HTML

CRM, BILLING = "create_crm_record", "setup_billing_account"
APPROVER = frozenset({"approver", "viewer"})


@pytest.mark.parametrize("written", ["bob", "Bob", "BOB", " bob ", "\tBob\n"])
def test_a_user_id_has_one_canonical_form(written: str) -> None:
    assert canonical_user_id(written) == "bob"
    assert same_user(written, "bob")


def test_canonical_forms_fold_case_beyond_ascii_and_keep_people_apart() -> None:
    assert canonical_user_id("Jürgen.Groß") == canonical_user_id("JÜRGEN.GROSS") == "jürgen.gross"
    assert not same_user("bob", "bobby") and not same_user("carol", "caro l")


def test_four_eyes_knows_the_starter_whatever_the_case() -> None:
    request = ApprovalRequest(BILLING, [], typed_phrase="CONFIRM BILLING", four_eyes=True,
                              started_by="Bob")  # fmt: skip
    for name in ["bob", "BOB", " Bob"]:
        approver = Approver(name, APPROVER)
        assert not may_approve(approver, "", four_eyes=True, started_by="Bob")
        decision = Decision(BILLING, name, "approved", typed_confirmation="CONFIRM BILLING")
        refused = refusal(request, decision, approver)
        assert refused is not None and refused.kind == RefusalKind.FORBIDDEN
        assert "four eyes" in refused.message
    carol = Approver("carol", APPROVER)
    accepted = Decision(BILLING, "carol", "approved", typed_confirmation="CONFIRM BILLING")
    assert refusal(request, accepted, carol) is None


def test_the_same_person_in_another_case_is_not_a_second_approval() -> None:
    request = ApprovalRequest(CRM, [], required_approvals=2)
    again = refusal(request, Decision(CRM, "Carol", "approved"), Approver("Carol", APPROVER),
                    approved_by=["carol"])  # fmt: skip
    assert again is not None and again.kind == RefusalKind.NOT_WAITING
    assert again.message == "Carol has already approved this step"
    assert not approvals_complete(request, ["carol", "Carol", " CAROL "])
    assert approvals_complete(request, ["carol", "Bob"])


def test_the_inbox_tells_the_starter_of_a_critical_step_whatever_the_case() -> None:
    item = WaitingApproval("e-1", "customer_onboarding", "Customer Onboarding", BILLING,
                           "Setup Billing Account", "critical", "", "Bob", None)  # fmt: skip
    bob = user_from_groups("bob", ["stepladder-approvers"], "admins", "stepladder-approvers")
    assert item.may_decide(bob) and not item.may_approve(bob)
    assert item.may_approve(DEMO_USERS["carol"])


def test_the_name_is_shown_as_given() -> None:
    user = user_from_groups(" Bob", ["stepladder-approvers"], "admins", "stepladder-approvers")
    assert user.name == " Bob" and user.display_name == " Bob"
    decision = Decision.by(User("Bob", "Bob", with_implied([Role.APPROVER])), CRM, "approved",
                           source="api")  # fmt: skip
    assert decision.user_id == "Bob"


async def test_a_signal_names_a_known_user_in_any_case(
    engine: Engine, temporal_client: Client
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(engine, execution_id, CRM)
    handle = temporal_client.get_workflow_handle(execution_id)
    await handle.signal("approve_step", {"step_id": CRM, "user_id": "CAROL", "action": "approved",
                                         "confirmations": CRM_CONFIRMATIONS})  # fmt: skip
    timeline = await waiting_at(engine, execution_id, BILLING)
    crm = next(s for s in timeline.steps if s.id == CRM)
    assert [d.user_id for d in crm.decisions] == ["CAROL"] and crm.ignored_signals == []
    await engine.cancel(execution_id)
    await finished(engine, execution_id)


async def test_an_api_client_names_a_demo_user_in_any_case(client: httpx.AsyncClient) -> None:
    for name in ["bob", "Bob", " BOB "]:
        response = await client.get("/api/workflows/approvals", headers=api_headers(name))
        assert response.status_code == 200, (name, response.text)
    unknown = await client.get("/api/workflows/approvals", headers=api_headers("bobby"))
    assert unknown.status_code == 401
    detail = unknown.json()["detail"]
    assert "'bobby'" in detail and "ada, bob, carol" in detail, detail  # says who it may name


# --- end to end, in proxy mode --------------------------------------------------------------


@pytest.fixture
async def proxy_client(
    settings: Settings, worker: Worker, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """An app in proxy mode whose Create CRM Record needs two approvals."""
    source = (REPO_ROOT / "definitions" / "customer_onboarding.yaml").read_text()
    marker = "    confirmations:\n      - I have reviewed the customer data"
    assert source.count(marker) == 1
    (tmp_path / "customer_onboarding.yaml").write_text(
        source.replace(marker, "    required_approvals: 2\n" + marker)
    )
    proxy = replace(settings, auth_mode="proxy", secret_key="x" * 40, definitions_dir=tmp_path)
    async with http_client(create_app(proxy)) as client:
        yield client


def as_user(name: str) -> dict[str, str]:
    return {"X-Forwarded-User": name, "X-Forwarded-Groups": "staff, stepladder-approvers"}


async def test_in_proxy_mode_bob_is_bob_and_carol_is_carol_whatever_the_case(
    proxy_client: httpx.AsyncClient, engine: Engine
) -> None:
    api = "/api/workflows/executions"
    started = await proxy_client.post(
        f"{api}/start",
        json={"workflow_id": "customer_onboarding", "workflow_data": PREMIUM},
        headers=as_user("Bob"),
    )
    assert started.status_code == 201, started.text
    execution_id = started.json()["execution_id"]
    await waiting_at(engine, execution_id, CRM)

    async def decide(step_id: str, user: str, **body: object) -> httpx.Response:
        return await proxy_client.post(f"{api}/{execution_id}/steps/{step_id}/approve", json=body,
                                 headers=as_user(user))  # fmt: skip

    first = await decide(CRM, "carol", confirmations=CRM_CONFIRMATIONS)
    assert first.status_code == 200 and first.json()["approvals"] == 1
    twice = await decide(CRM, "Carol", confirmations=CRM_CONFIRMATIONS)
    assert twice.status_code == 409
    assert twice.json()["detail"] == "Carol has already approved this step"
    second = await decide(CRM, "bob", confirmations=CRM_CONFIRMATIONS)  # CRM is not critical
    assert second.json()["step_status"] == "approved"

    await waiting_at(engine, execution_id, BILLING)
    starter = await decide(BILLING, "bob", typed_confirmation="CONFIRM BILLING")
    assert starter.status_code == 403
    assert "four eyes" in starter.json()["detail"]
    # The pages say so before bob tries: the panel and the inbox.
    page = await proxy_client.get(f"/executions/{execution_id}", headers={**HTML, **as_user("bob")})
    assert "You started this execution: four eyes" in page.text
    # (Durations on the page read as people write them: "Completed in 399 ms", not "399ms".)
    shown = re.sub(r'hx-swap="[^"]*"', "", page.text)  # htmx's own "swap:0ms" is no duration
    assert re.search(r"Completed in \d+ ms", shown) and not re.search(r"\d+ms\b", shown)
    inbox = await eventually(
        lambda: proxy_client.get("/approvals", headers={**HTML, **as_user("BOB")}),
        lambda r: BILLING in r.text,
    )
    assert "Four eyes: you started this execution" in inbox.text
    assert "started by Bob" in inbox.text  # shown as given

    done = await decide(BILLING, "carol", typed_confirmation="CONFIRM BILLING")
    assert done.status_code == 200, done.text
    timeline = await finished(engine, execution_id)
    assert timeline.status == "completed" and timeline.started_by == "Bob"
    crm = next(s for s in timeline.steps if s.id == CRM)
    assert [d.user_id for d in crm.decisions] == ["carol", "bob"]
