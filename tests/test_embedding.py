"""Embedding in an intranet portal: the security headers on every kind of response, the cookies a
cross-site frame needs, `/embed/...` pages whose links stay embedded, and (Chromium, two sites) a
decision made inside a portal's iframe; a failed htmx request says so in place."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from litestar import Litestar, get
from playwright.async_api import Browser, expect
from temporalio.worker import Worker

from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.settings import Settings
from app.web.app import create_app
from app.web.identity import SESSION_COOKIE, SessionSigner
from bench.stack import web_process
from tests.browser import free_port, sign_in
from tests.conftest import running, signed_in
from tests.helpers import PREMIUM, finished, waiting_at
from tests.test_web import HTML, csrf_token

PORTAL = "http://localhost:{port}"  # another site than the app's http://127.0.0.1:P
LIVE = 15_000  # ms


def assert_secured(response: httpx.Response, ancestors: str) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    assert response.headers.get("content-security-policy") == f"frame-ancestors {ancestors}", where
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "strict-origin-when-cross-origin", where


@asynccontextmanager
async def https_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The app over https: framed cross-site its cookies are Secure, sent over https only."""
    transport = httpx.ASGITransport(app=app)
    async with (
        running(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver.local") as client,
    ):
        yield client


@get("/boom", include_in_schema=False)
async def boom() -> str:
    raise RuntimeError("a bug")


async def test_every_kind_of_response_carries_the_security_headers(
    settings: Settings, worker: Worker
) -> None:
    framed = replace(settings, frame_ancestors=("'self'", "https://portal.example.com"))
    app = create_app(framed)
    app.register(boom)
    ancestors = "'self' https://portal.example.com"
    async with https_client(app) as client:
        kinds = {
            200: await client.get("/health"),
            303: await client.get("/workflows", headers=HTML),  # to the sign-in menu
            401: await client.get("/api/workflows/"),
            404: await client.get("/no-such-page", headers=HTML),  # before routing
        }
        kinds[1200] = await client.get("/static/app.css")
        signed_in(client, framed, "bob")
        page = await client.get("/workflows/customer_onboarding", headers=HTML)
        kinds[422] = await client.post(
            "/workflows/customer_onboarding/executions",
            data={"_csrf_token": csrf_token(page.text), "name": ""}, headers=HTML,
        )  # fmt: skip
        kinds[403] = await client.post(  # no CSRF token
            "/workflows/customer_onboarding/executions", data={"name": "x"}, headers=HTML
        )
        kinds[1404] = await client.get("/executions/no-such-execution", headers=HTML)
        kinds[500] = await client.get("/boom", headers=HTML)
    for expected, response in kinds.items():
        assert response.status_code == expected % 1000, (expected, response.text)
        assert_secured(response, ancestors)
    assert "frame-ancestors" not in kinds[500].text  # the error page, not a trace


def test_event_streams_carry_the_security_headers(web_server: str, settings: Settings) -> None:
    cookies = {SESSION_COOKIE: SessionSigner.from_settings(settings).sign("carol")}
    with (
        httpx.Client(base_url=web_server, cookies=cookies) as client,
        client.stream("GET", "/approvals/events") as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert_secured(stream, "'self'")


async def test_cookies_are_samesite_none_and_secure_only_when_framed_cross_site(
    settings: Settings, worker: Worker
) -> None:
    async def cookies_of(configured: Settings) -> list[str]:
        async with https_client(create_app(configured)) as client:
            menu = await client.get("/auth/sign-in", headers=HTML)
            signed = await client.post(
                "/auth/sign-in",
                data={"_csrf_token": csrf_token(menu.text), "user": "carol", "next": "/"},
            )
            return menu.headers.get_list("set-cookie") + signed.headers.get_list("set-cookie")

    framed = await cookies_of(replace(settings, frame_ancestors=("'self'", "https://portal.x")))
    own = await cookies_of(settings)
    for name in ("stepladder_csrf=", f"{SESSION_COOKIE}="):
        [cross_site] = [c for c in framed if c.startswith(name)]
        assert "SameSite=none; Secure; Partitioned" in cross_site, cross_site
        [same_site] = [c for c in own if c.startswith(name)]
        assert "SameSite=lax" in same_site and "Secure" not in same_site, same_site


def internal_links(page: str) -> list[str]:
    return [
        link
        for link in re.findall(r'(?:href|action|hx-post|hx-get|src|sse-connect)="([^"]+)"', page)
        if link.startswith("/")
    ]


async def test_embedded_pages_keep_every_link_and_redirect_embedded(
    client: httpx.AsyncClient, engine: ExecutionService, settings: Settings
) -> None:
    to_sign_in = await client.get("/embed/executions", headers=HTML)
    assert to_sign_in.headers["location"] == "/embed/auth/sign-in?next=/executions"
    menu = await client.get(to_sign_in.headers["location"], headers=HTML)
    assert all(link.startswith("/embed/") for link in internal_links(menu.text))
    signed = await client.post(
        "/embed/auth/sign-in",
        data={"_csrf_token": csrf_token(menu.text), "user": "carol", "next": "/executions"},
    )
    assert signed.headers["location"] == "/embed/executions"

    execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(engine, execution_id, "create_crm_record")
    for url in ("/embed/", "/embed/executions", "/embed/workflows", "/embed/approvals",
                f"/embed/executions/{execution_id}", f"/executions/{execution_id}?embed=1",
                "/embed/workflows/customer_onboarding"):  # fmt: skip
        page = await client.get(url, headers=HTML)
        assert page.status_code == 200, url
        assert 'class="topbar"' not in page.text, url  # chromeless
        links = internal_links(page.text)
        assert links and all(link.startswith("/embed/") for link in links), (url, links)
    assert (await client.get("/embed/static/app.js")).status_code == 200
    icon = await client.get("/embed/static/favicon.svg")  # the pages' icon: no 404 per page
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")

    timeline = await client.get(f"/embed/executions/{execution_id}", headers=HTML)
    decided = await client.post(
        f"/embed/executions/{execution_id}/steps/create_crm_record/decision",
        data={"_csrf_token": csrf_token(timeline.text), "action": "rejected", "reason": "no"},
        headers=HTML,
    )  # fmt: skip
    assert decided.status_code == 303
    assert decided.headers["location"] == (
        f"/embed/executions/{execution_id}#step-create_crm_record"
    )
    assert (await finished(engine, execution_id)).status == "rejected"


@pytest.fixture
def portal_page() -> Iterator[tuple[int, dict[str, str]]]:
    """A second site: an intranet portal page (http://localhost:P) framing whatever `pages`
    holds under a path."""
    pages: dict[str, str] = {}

    class Portal(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's spelling)
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Portal)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, pages
    finally:
        server.shutdown()
        server.server_close()


async def test_a_reject_inside_a_cross_site_portal_frame_rejects_the_step(
    browser: Browser,
    settings: Settings,
    engine: ExecutionService,
    portal_page: tuple[int, dict[str, str]],
) -> None:
    port, pages = portal_page
    portal = PORTAL.format(port=port)
    env = {**os.environ, "DATABASE_URL": settings.database_url,
           "TEMPORAL_ADDRESS": settings.temporal_address, "TEMPORAL_TASK_QUEUE": settings.task_queue,
           "LOG_LEVEL": "WARNING", "FRAME_ANCESTORS": f"'self',{portal}"}  # fmt: skip
    execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(engine, execution_id, "create_crm_record")
    with web_process(env) as web:
        context = await browser.new_context()
        page = await context.new_page()
        pages["/"] = (
            "<!doctype html><title>Intranet</title><h1>Intranet portal</h1>"
            f'<iframe id="app" src="{web.url}/embed/executions/{execution_id}"'
            ' width="1000" height="1200"></iframe>'
        )
        await page.goto(f"{portal}/")
        frame = page.frame_locator("#app")
        # Signed out, the frame asks who you are and stays embedded (the portal's SSO, in effect).
        await frame.get_by_label("Carol Approver").check()
        await frame.get_by_role("button", name="Sign in").click()
        card = frame.locator("#step-create_crm_record")
        await expect(frame.locator("header.topbar")).to_have_count(0)
        await card.get_by_label("Reason (required to reject)").fill("Customer asked to wait")
        await card.get_by_role("button", name="Reject", exact=True).click()
        await expect(card).to_have_attribute("data-status", "rejected", timeout=LIVE)
        await expect(card).to_contain_text("Rejected by carol: Customer asked to wait")
        await context.close()
    assert (await finished(engine, execution_id)).status == "rejected"


async def test_a_failed_htmx_request_shows_a_message_in_place_never_raw_json(
    browser: Browser, web_server: str, engine: ExecutionService
) -> None:
    execution_id = await engine.start("customer_onboarding", PREMIUM, DEMO_USERS["bob"])
    await waiting_at(engine, execution_id, "create_crm_record")
    page = await sign_in(browser, web_server, "Carol Approver")
    await page.goto(f"/executions/{execution_id}")
    # A token that no longer matches (another tab signed out and in): the post answers 403.
    await page.evaluate(
        """document.body.setAttribute("hx-headers", '{"x-csrftoken": "stale"}');
           document.querySelectorAll('input[name="_csrf_token"]').forEach(i => i.value = "stale")"""
    )
    card = page.locator("#step-create_crm_record")
    await card.get_by_label("Reason (required to reject)").fill("Customer asked to wait")
    await card.get_by_role("button", name="Reject", exact=True).click()
    await expect(card.locator(".request-error")).to_contain_text("Not done (403)")
    await expect(card).to_have_attribute("data-status", "waiting_approval")
    assert '"status_code"' not in await page.locator("#live").inner_text()
    await expect(card.get_by_label("Reason (required to reject)")).to_have_value(
        "Customer asked to wait"
    )
    await page.context.close()
