"""The timeline's polish without JavaScript: Cancel with a reason (recorded and shown), a rejected
execution said in its header and bar, pending steps with their mode, "Not run" once it ended."""

from __future__ import annotations

import httpx

from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.settings import Settings
from tests.conftest import signed_in
from tests.helpers import finished, waiting_at
from tests.test_web import csrf_token

BOB = DEMO_USERS["bob"]
BASIC = {"name": "Ada Lovelace", "email": "ada@example.com", "tier": "basic"}


async def test_an_approver_cancels_with_a_reason_and_the_timeline_says_who_and_why(
    client: httpx.AsyncClient, settings: Settings, engine: ExecutionService
) -> None:
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    carol = signed_in(client, settings, "carol")
    timeline = await carol.get(f"/executions/{execution_id}")
    assert f'href="/executions/{execution_id}/cancel"' in timeline.text

    confirm = await carol.get(f"/executions/{execution_id}/cancel")
    assert confirm.status_code == 200 and 'name="reason"' in confirm.text
    token = csrf_token(confirm.text)
    refused = await carol.post(
        f"/executions/{execution_id}/cancel", data={"reason": " \u200b ", "_csrf_token": token}
    )
    assert refused.status_code == 422 and "reason: say why" in refused.text
    assert (await engine.timeline(execution_id)).status == "running"

    done = await carol.post(
        f"/executions/{execution_id}/cancel",
        data={"reason": "customer withdrew", "_csrf_token": token},
    )
    assert done.status_code == 303
    assert (await finished(engine, execution_id)).status == "cancelled"
    page = await carol.get(f"/executions/{execution_id}")
    assert "Cancelled by carol" in page.text and "customer withdrew" in page.text
    assert "This execution was cancelled" in page.text and "progress-cancelled" in page.text
    assert f'href="/executions/{execution_id}/cancel"' not in page.text  # ended: no button


async def test_a_viewer_sees_no_cancel_button_and_may_not_cancel(
    client: httpx.AsyncClient, settings: Settings, engine: ExecutionService
) -> None:
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    vera = signed_in(client, settings, "vera")
    page = await vera.get(f"/executions/{execution_id}")
    assert "Cancel execution" not in page.text
    assert (await vera.get(f"/executions/{execution_id}/cancel")).status_code == 403


async def test_a_rejected_execution_says_so_in_words_and_colour_and_later_steps_were_not_run(
    client: httpx.AsyncClient, settings: Settings, engine: ExecutionService
) -> None:
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    waiting = await waiting_at(engine, execution_id, "create_crm_record")
    assert waiting.steps[3].status == "pending"
    pending = await signed_in(client, settings, "vera").get(f"/executions/{execution_id}")
    assert 'class="badge mode mode-' in pending.text.split('id="step-setup_billing_account"')[1]
    await engine.decide(
        execution_id, "create_crm_record", DEMO_USERS["carol"], "rejected", reason="duplicate"
    )
    await finished(engine, execution_id)

    page = await client.get(f"/executions/{execution_id}")

    header = page.text.split('class="timeline-header"')[1].split("</header>")[0]
    assert 'class="status status-rejected"' in header and "Rejected" in header
    assert "This execution was rejected" in header and "progress-rejected" in header
    after = page.text.split('id="step-setup_billing_account"')[1]
    assert "Not run" in after
