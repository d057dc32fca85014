"""Live pages in Chromium against the real web process, worker, Temporal and PostgreSQL: the
timeline and the inbox update over SSE without reloads, in every open browser."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import asyncpg
import httpx
from playwright.async_api import Browser, Page, expect

from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.settings import REPO_ROOT, Settings
from tests.browser import free_port, sign_in
from tests.helpers import eventually, waiting_at
from tests.test_lists import one_finished_one_waiting

BOB, CAROL = DEMO_USERS["bob"], DEMO_USERS["carol"]
BASIC = {"name": "Ada Lovelace", "email": "ada@example.com", "tier": "basic"}
CRM_BASIC = ["I have reviewed the customer data", "I confirm this is for PRODUCTION"]
LIVE = 15_000  # ms: generous for a loaded CI machine; a waiting step is polled every 4 s


async def remember_this_page(page: Page) -> None:
    """Mark the document: the mark survives live updates and disappears on a reload."""
    await page.evaluate("window.__stepladderNoReload = true")


async def was_not_reloaded(page: Page) -> bool:
    return bool(await page.evaluate("window.__stepladderNoReload === true"))


@asynccontextmanager
async def demo_contacts_locked(database_url: str) -> AsyncIterator[None]:
    """Hold check_duplicates (it reads demo_contacts) until the block ends, like a slow system."""
    connection = await asyncpg.connect(dsn=database_url)
    transaction = connection.transaction()
    await transaction.start()
    await connection.execute("LOCK TABLE demo_contacts IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        await transaction.rollback()
        await connection.close()


async def test_auto_steps_complete_on_screen_without_reload_over_sse(
    browser: Browser, web_server: str, engine: ExecutionService, database_url: str
) -> None:
    page = await sign_in(browser, web_server, "Bob Approver")
    polls: list[str] = []
    page.on(
        "request",
        lambda r: polls.append(r.url) if re.search(r"/executions/[^/]+$", r.url) else None,
    )
    async with demo_contacts_locked(database_url):
        await page.goto("/workflows/customer_onboarding")
        await page.get_by_label("Full name").fill("Ada Lovelace")
        await page.get_by_label("Email").fill("ada@example.com")
        async with page.expect_request(re.compile(r"/executions/[^/]+/events\?seen=\d+$")):
            await page.get_by_role("button", name="Execute workflow").click()
        await expect(page.locator("#step-validate_email")).to_have_attribute(
            "data-status", "completed", timeout=LIVE
        )
        await expect(page.locator("#step-check_duplicates")).to_have_attribute(
            "data-status", "running"
        )
        await remember_this_page(page)

    # The lock is gone: the rest runs by itself and arrives over the stream.
    checked = page.locator("#step-check_duplicates")
    await expect(checked).to_have_attribute("data-status", "completed", timeout=LIVE)
    await expect(checked).to_contain_text("No duplicates found")
    await expect(page.locator("#step-create_crm_record")).to_have_attribute(
        "data-status", "waiting_approval", timeout=LIVE
    )
    await expect(page.locator("#timeline")).to_contain_text("2/5 steps completed")
    assert await was_not_reloaded(page)
    assert len(polls) == 1, f"only the page itself is fetched, no polling: {polls}"


async def test_a_second_browser_watching_the_same_execution_updates_too(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")
    approver = await sign_in(browser, web_server, "Carol Approver")
    watcher = await sign_in(browser, web_server, "Vera Viewer")
    for page in (approver, watcher):
        await page.goto(f"/executions/{execution_id}")
        await expect(page.locator("#step-create_crm_record")).to_have_attribute(
            "data-status", "waiting_approval"
        )
        await remember_this_page(page)

    panel = approver.locator("#step-create_crm_record")
    for label in CRM_BASIC:
        await panel.get_by_label(label).check()
    await panel.get_by_role("button", name="Approve & Continue").click()

    for page in (approver, watcher):
        await expect(page.locator("#step-create_crm_record")).to_have_attribute(
            "data-status", "completed", timeout=LIVE
        )
        await expect(page.locator("#step-setup_billing_account")).to_have_attribute(
            "data-status", "waiting_approval", timeout=LIVE
        )
    assert await was_not_reloaded(watcher)


async def test_the_inbox_shows_a_new_waiting_step_without_reload(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    page = await sign_in(browser, web_server, "Carol Approver")
    await page.get_by_role("link", name="Approvals").click()
    inbox = page.locator("#approval-inbox")
    await expect(inbox).to_contain_text("Nothing is waiting for your approval.")
    await remember_this_page(page)

    execution_id = await engine.start("customer_onboarding", BASIC, BOB)

    item = inbox.get_by_role("link", name="Create CRM Record")
    await expect(item).to_be_visible(timeout=LIVE)
    await expect(item).to_have_attribute(
        "href", f"/executions/{execution_id}#step-create_crm_record"
    )
    assert await was_not_reloaded(page)
    await item.click()
    await expect(page.locator("#step-create_crm_record")).to_have_attribute(
        "data-status", "waiting_approval"
    )


async def test_the_overview_lists_my_approvals_running_executions_and_outcomes(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    page = await sign_in(browser, web_server, "Carol Approver")
    await expect(page.get_by_role("heading", name="Approvals waiting for me")).to_be_visible()
    await expect(page.locator("#approval-inbox")).to_contain_text("Nothing is waiting")
    await expect(page.get_by_text("Nothing is running.")).to_be_visible()
    await expect(page.get_by_text("No execution has finished yet.")).to_be_visible()

    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    # The approvals section is live; the other sections show the state at load.
    await expect(page.locator("#approval-inbox").get_by_role("link")).to_have_text(
        re.compile("Create CRM Record"), timeout=LIVE
    )
    await page.reload()
    running = page.get_by_role("region", name="Running executions")
    await expect(running.get_by_role("link", name=execution_id)).to_be_visible()
    await expect(running).to_contain_text("waiting for approval")


async def test_execution_filters_work_with_htmx_and_without_javascript(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    done_id, waiting_id = await one_finished_one_waiting(engine)

    page = await sign_in(browser, web_server, "Vera Viewer")
    await page.goto("/executions")
    rows = page.locator("#execution-rows")
    await expect(rows.get_by_role("link", name=done_id)).to_be_visible()
    await expect(rows.get_by_role("link", name=waiting_id)).to_be_visible()
    await remember_this_page(page)

    await page.get_by_label("Status").select_option("completed")
    await expect(page).to_have_url(re.compile(r"status=completed"))
    await expect(rows.get_by_role("link", name=waiting_id)).to_have_count(0)
    await expect(rows.get_by_role("link", name=done_id)).to_be_visible()

    await page.get_by_label("Status").select_option("")
    await page.get_by_label("Waiting for approval").check()
    await expect(page).to_have_url(re.compile(r"waiting=1"))
    await expect(rows.get_by_role("link", name=done_id)).to_have_count(0)
    await expect(rows.get_by_role("link", name=waiting_id)).to_be_visible()
    assert await was_not_reloaded(page)

    await page.get_by_label("Status").select_option("failed")
    await expect(rows).to_contain_text("No executions match these filters.")

    # Without JavaScript the same form is a plain GET.
    context = await browser.new_context(base_url=web_server, java_script_enabled=False)
    plain = await context.new_page()
    await plain.goto("/auth/sign-in")
    await plain.get_by_label("Vera Viewer").check()
    await plain.get_by_role("button", name="Sign in").click()
    await plain.goto("/executions")
    await plain.get_by_label("Waiting for approval").check()
    await plain.get_by_role("button", name="Filter").click()
    await expect(plain).to_have_url(re.compile(r"/executions\?.*waiting=1"))
    await expect(plain.get_by_role("link", name=waiting_id)).to_be_visible()
    await expect(plain.get_by_role("link", name=done_id)).to_have_count(0)
    await context.close()


# --- a web server restart ------------------------------------------------------------------


@contextmanager
def web_process(settings: Settings, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": settings.task_queue,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "web"], env=env, cwd=REPO_ROOT)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)


async def answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(f"{url}/health", timeout=1)).status_code == 200
    except httpx.TransportError:
        return False


async def wait_until_up(url: str) -> None:
    await eventually(lambda: answers(url), bool, timeout=60, interval=0.1)


async def test_after_a_server_restart_the_page_reconnects_and_catches_up(
    browser: Browser, settings: Settings, engine: ExecutionService
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    execution_id = await engine.start("customer_onboarding", BASIC, BOB)
    await waiting_at(engine, execution_id, "create_crm_record")

    with web_process(settings, port):
        await wait_until_up(url)
        page = await sign_in(browser, url, "Vera Viewer")
        await page.goto(f"/executions/{execution_id}")
        await expect(page.locator("#step-create_crm_record")).to_have_attribute(
            "data-status", "waiting_approval"
        )
        await remember_this_page(page)
    started = time.monotonic()

    # While the web server is down, the execution moves on (a decision from elsewhere).
    await engine.decide(
        execution_id, "create_crm_record", CAROL, "approved", confirmations=CRM_BASIC
    )
    await waiting_at(engine, execution_id, "setup_billing_account")

    with web_process(settings, port):
        await wait_until_up(url)
        await expect(page.locator("#step-create_crm_record")).to_have_attribute(
            "data-status", "completed", timeout=30_000
        )
        await expect(page.locator("#step-setup_billing_account")).to_have_attribute(
            "data-status", "waiting_approval"
        )
    assert await was_not_reloaded(page), (
        f"caught up by reconnecting ({time.monotonic() - started:.1f}s)"
    )
