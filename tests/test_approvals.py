"""Approval rules shared by the page, the API, the update validator and the CLI signal."""

from __future__ import annotations

from dataclasses import replace

from app.definitions.loader import load_definitions
from app.domain.approvals import (
    ApprovalRequest,
    Approver,
    Decision,
    RefusalKind,
    approval_request,
    approvals_complete,
    refusal,
)
from app.settings import REPO_ROOT
from app.temporal.actions import ACTION_NAMES

ONBOARDING = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)["customer_onboarding"]
CRM = ONBOARDING.step("create_crm_record")
BILLING = ONBOARDING.step("setup_billing_account")
BOB = Approver("bob", frozenset({"approver", "viewer"}))
CAROL = Approver("carol", frozenset({"approver", "viewer"}))
VERA = Approver("vera", frozenset({"viewer"}))
THREE = [
    "I have reviewed the customer data",
    "I confirm this is for PRODUCTION",
    "I have approval for credit limit >$1,000",
]


def context(tier: str) -> dict[str, object]:
    return {"input": {"name": "J", "email": "j@example.com", "tier": tier}, "steps": {}}


LIMITS = {"basic": 1000, "premium": 5000, "enterprise": 25000}


def crm_request(tier: str = "premium") -> ApprovalRequest:
    # The proposed params, as the workflow renders them with the approver inputs' defaults.
    return approval_request(CRM, context(tier), "bob", {"credit_limit": LIMITS[tier]})


def approve(user: str = "bob", **changes: object) -> Decision:
    decision = Decision("create_crm_record", user, "approved", confirmations=list(THREE))
    return replace(decision, **changes)  # type: ignore[arg-type]


def test_premium_customer_gets_the_credit_limit_confirmation_basic_does_not() -> None:
    assert crm_request("premium").confirmations == THREE
    assert crm_request("basic").confirmations == THREE[:2]


def test_complete_approval_is_accepted() -> None:
    assert refusal(crm_request(), approve(), BOB) is None


def test_the_approver_may_lower_the_credit_limit_but_not_raise_it() -> None:
    [limit, note] = crm_request().inputs
    assert (limit.default, limit.min, limit.max, note.required) == (5000, 0, 5000, False)
    assert refusal(crm_request(), approve(inputs={"credit_limit": "3000"}), BOB) is None
    refused = refusal(crm_request(), approve(inputs={"credit_limit": 9000}), BOB)
    assert refused is not None and refused.kind == RefusalKind.INCOMPLETE
    assert refused.message == "Credit limit ($) must be at most 5,000"
    refused = refusal(crm_request(), approve(inputs={"credit_limit": "lots", "colour": 1}), BOB)
    assert refused is not None
    assert (
        refused.message
        == "Credit limit ($) must be a number; 'colour' is not an input of this step"
    )
    refused = refusal(crm_request(), approve(inputs={"note": "x" * 501}), BOB)
    assert refused is not None and "at most 500 characters" in refused.message
    # A rejection carries no inputs to check.
    rejection = approve(action="rejected", reason="no", inputs={"credit_limit": 9000})
    assert refusal(crm_request(), rejection, BOB) is None


def test_a_missing_confirmation_is_refused_naming_it() -> None:
    refused = refusal(crm_request(), approve(confirmations=THREE[:2]), BOB)
    assert refused is not None and refused.kind == RefusalKind.INCOMPLETE
    assert "credit limit >$1,000" in refused.message


def test_a_confirmation_the_step_did_not_ask_for_is_refused() -> None:
    refused = refusal(crm_request("basic"), approve(), BOB)
    assert refused is not None and "unknown confirmation" in refused.message


def test_a_step_that_is_not_waiting_refuses_every_decision() -> None:
    refused = refusal(None, approve(), BOB)
    assert refused is not None and refused.kind == RefusalKind.NOT_WAITING
    other = refusal(crm_request(), approve(step_id="setup_billing_account"), BOB)
    assert other is not None and other.kind == RefusalKind.NOT_WAITING


def test_rejection_needs_a_reason_but_no_confirmations() -> None:
    bare = Decision("create_crm_record", "bob", "rejected", reason="  ")
    refused = refusal(crm_request(), bare, BOB)
    assert refused is not None and refused.message == "a rejection needs a reason"
    assert refusal(crm_request(), replace(bare, reason="wrong tier"), BOB) is None


def test_unknown_action_is_refused() -> None:
    refused = refusal(crm_request(), approve(action="maybe"), BOB)
    assert refused is not None and "'approved' or 'rejected'" in refused.message


def test_a_viewer_may_not_decide_unless_in_the_steps_group() -> None:
    refused = refusal(crm_request(), approve("vera"), VERA)
    assert refused is not None and refused.kind == RefusalKind.FORBIDDEN
    grouped = replace(crm_request(), approvers_group="crm-team")
    member = replace(VERA, groups=frozenset({"crm-team"}))
    assert refusal(grouped, approve("vera"), member) is None


def test_critical_step_asks_a_typed_phrase_and_refuses_the_starter() -> None:
    request = approval_request(BILLING, context("premium"), started_by="bob")
    assert request.four_eyes and request.typed_phrase == "CONFIRM BILLING"
    base = Decision("setup_billing_account", "carol", "approved", typed_confirmation="")
    wrong = refusal(request, base, CAROL)
    assert wrong is not None and "CONFIRM BILLING" in wrong.message
    exact = replace(base, typed_confirmation="CONFIRM BILLING")
    assert refusal(request, exact, CAROL) is None
    starter = refusal(request, replace(exact, user_id="bob"), BOB)
    assert starter is not None and starter.kind == RefusalKind.FORBIDDEN
    assert "four eyes" in starter.message
    # The starter may still reject: catching a mistake is always welcome.
    assert (
        refusal(request, Decision("setup_billing_account", "bob", "rejected", "oops"), BOB) is None
    )


def test_n_distinct_approvals_and_no_approving_twice() -> None:
    request = replace(crm_request(), required_approvals=2)
    assert not approvals_complete(request, ["bob"])
    again = refusal(request, approve(), BOB, approved_by=["bob"])
    assert again is not None and again.kind == RefusalKind.NOT_WAITING
    assert refusal(request, approve("carol"), CAROL, approved_by=["bob"]) is None
    assert approvals_complete(request, ["bob", "carol"])


def test_an_update_aborted_before_delivery_is_told_apart_from_other_failures() -> None:
    from temporalio.service import RPCError, RPCStatusCode

    from app.approvals.service import _not_delivered

    details = b"\x08\t\x12TUnable to perform ...\x1aJ\nHtype.googleapis.com/temporal.api.errordetails.v1.WorkflowNotReadyFailure"
    aborted = RPCError(
        "unexpected workflow task failure", RPCStatusCode.FAILED_PRECONDITION, details
    )
    other = RPCError("no such workflow", RPCStatusCode.FAILED_PRECONDITION, b"")
    gone = RPCError("not found", RPCStatusCode.NOT_FOUND, details)
    assert _not_delivered(aborted)
    assert not _not_delivered(other) and not _not_delivered(gone)
