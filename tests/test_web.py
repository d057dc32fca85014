"""The web layer and JSON API against the real PostgreSQL and Temporal dev server."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import httpx
from temporalio.worker import Worker

from app.domain.identity import DEMO_USERS
from app.executions.service import ExecutionService
from app.settings import Settings
from app.web.app import create_app
from tests.conftest import api_headers, http_client, signed_in
from tests.helpers import DEFINITIONS, automate_every_step, eventually, finished, waiting_at

HTML = {"accept": "text/html"}
JOHN = {"name": "John Doe", "email": "john@example.com", "tier": "premium"}


def csrf_token(page: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert match, "page has no CSRF field"
    return match.group(1)


async def test_health_reports_both_engines(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["postgresql"]["ok"] and body["checks"]["temporal"]["ok"]


async def test_health_is_503_naming_what_is_down(settings: Settings) -> None:
    broken = replace(
        settings,
        database_url="postgresql://postgres@127.0.0.1:1/nothing",
        temporal_address="127.0.0.1:1",
    )
    async with http_client(create_app(broken)) as test_client:
        response = await test_client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert sorted(body["down"]) == ["postgresql", "temporal"]
    assert body["checks"]["postgresql"]["detail"]


async def test_unsigned_browser_is_sent_to_the_dev_sign_in_menu(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/executions", headers=HTML, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/auth/sign-in?next=/executions"
    menu = await client.get("/auth/sign-in", headers=HTML)
    for name in ("Ada Admin", "Bob Approver", "Carol Approver", "Vera Viewer"):
        assert name in menu.text


async def test_sign_in_from_the_menu_sets_the_user(client: httpx.AsyncClient) -> None:
    menu = await client.get("/auth/sign-in?next=/workflows", headers=HTML)
    response = await client.post(
        "/auth/sign-in",
        data={"user": "carol", "next": "/workflows", "_csrf_token": csrf_token(menu.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/workflows"
    page = await client.get("/workflows", headers=HTML)
    assert "Carol Approver" in page.text and "Customer Onboarding" in page.text


async def test_forms_without_a_csrf_token_are_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    signed_in(client, settings, "bob")
    response = await client.post(
        "/workflows/customer_onboarding/executions", data=JOHN, headers=HTML
    )
    assert response.status_code == 403


async def start_from_form(
    client: httpx.AsyncClient, settings: Settings, user: str, data: dict[str, str]
) -> Any:
    signed_in(client, settings, user)
    form = await client.get("/workflows/customer_onboarding", headers=HTML)
    assert form.status_code == 200
    return await client.post(
        "/workflows/customer_onboarding/executions",
        data={**data, "_csrf_token": csrf_token(form.text)},
        headers=HTML,
        follow_redirects=False,
    )


async def test_form_start_redirects_to_a_timeline_that_reaches_completed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await automate_every_step(DEFINITIONS["customer_onboarding"])
    response = await start_from_form(client, settings, "bob", JOHN)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/executions/customer_onboarding-")

    async def page() -> str:
        return (await client.get(location, headers=HTML)).text

    text = await eventually(page, lambda t: 'id="timeline" data-status="completed"' in t)
    assert "5/5 steps completed" in text
    assert "No duplicates found" in text


async def test_a_running_timeline_follows_its_event_stream_and_a_finished_one_opens_none(
    client: httpx.AsyncClient, settings: Settings, engine: ExecutionService
) -> None:
    execution_id = await engine.start("customer_onboarding", JOHN, DEMO_USERS["bob"])
    await waiting_at(engine, execution_id, "create_crm_record")
    signed_in(client, settings, "vera")

    running = (await client.get(f"/executions/{execution_id}", headers=HTML)).text
    await engine.cancel(execution_id)
    await finished(engine, execution_id)
    ended = (await client.get(f"/executions/{execution_id}", headers=HTML)).text

    # The stream starts after the version the page shows, so it never swaps in an identical copy.
    connect = re.search(rf'sse-connect="/executions/{execution_id}/events\?seen=(\d+)"', running)
    assert connect is not None and int(connect.group(1)) >= 1
    assert 'sse-swap="timeline"' in running and 'sse-close="end"' in running
    assert 'id="timeline" data-status="cancelled"' in ended
    assert "sse-connect" not in ended and "sse-swap" not in ended


async def api_start(
    client: httpx.AsyncClient, data: dict[str, str] = JOHN, user: str = "bob"
) -> httpx.Response:
    """A start through the JSON API, as SPEC §5 shows it; asserts it was accepted (201)."""
    response = await client.post(
        "/api/workflows/executions/start",
        json={"workflow_id": "customer_onboarding", "workflow_data": data},
        headers=api_headers(user),
    )
    assert response.status_code == 201, response.text
    return response


async def test_form_errors_show_beside_fields_and_keep_values(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    bad = {"name": "", "email": "john-at-example", "tier": "enterprise"}
    response = await start_from_form(client, settings, "bob", bad)
    assert response.status_code == 422
    text = response.text
    assert 'id="e-name"' in text and "Full name is required" in text
    assert "Email must be an email address" in text
    assert 'value="john-at-example"' in text
    assert '<option value="enterprise" selected>' in text


async def test_a_viewer_cannot_start_an_execution(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await start_from_form(client, settings, "vera", JOHN)
    assert response.status_code == 403
    assert "needs the approver role" in response.text


async def test_unknown_execution_page_is_a_helpful_404(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    signed_in(client, settings, "vera")
    response = await client.get("/executions/nope-123", headers=HTML)
    assert response.status_code == 404
    assert (
        "no execution &#39;nope-123&#39;" in response.text
        and "Back to the overview" in response.text
    )


async def test_api_start_with_the_spec_body_and_read_the_timeline(
    client: httpx.AsyncClient,
) -> None:
    await automate_every_step(DEFINITIONS["customer_onboarding"])
    execution_id = (await api_start(client)).json()["execution_id"]

    async def timeline() -> dict[str, Any]:
        got = await client.get(
            f"/api/workflows/executions/{execution_id}", headers=api_headers("vera")
        )
        body: dict[str, Any] = got.json()
        return body

    body = await eventually(timeline, lambda t: t["status"] == "completed")
    assert [s["status"] for s in body["steps"]] == ["completed"] * 5
    assert body["started_by"] == "bob"


async def test_the_start_answer_links_the_timeline_under_the_path_prefix(
    settings: Settings, worker: Worker, database_url: str
) -> None:
    prefixed = replace(settings, path_prefix="/stepladder")
    async with http_client(create_app(prefixed)) as test_client:
        response = await api_start(test_client)
        execution_id = response.json()["execution_id"]

        async def listed() -> list[dict[str, Any]]:
            got = await test_client.get("/api/workflows/executions", headers=api_headers("bob"))
            return [row for row in got.json() if row["execution_id"] == execution_id]

        [row] = await eventually(listed, bool)  # recorded within about a second of the start
        await test_client.post(
            f"/api/workflows/executions/{execution_id}/cancel", headers=api_headers("bob")
        )

    assert response.json()["timeline_url"] == f"/stepladder/executions/{execution_id}"
    assert row["timeline_url"] == f"/stepladder/executions/{execution_id}"


async def test_api_errors_are_json_with_a_message(client: httpx.AsyncClient) -> None:
    url = "/api/workflows/executions/start"
    bad = await client.post(
        url,
        json={"workflow_id": "customer_onboarding", "workflow_data": {"email": "x"}},
        headers=api_headers("bob"),
    )
    assert bad.status_code == 400
    assert bad.json()["extra"]["errors"]["email"].startswith("Email must be")
    unknown = await client.post(url, json={"workflow_id": "nope"}, headers=api_headers("bob"))
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    anonymous = await client.post(url, json={"workflow_id": "customer_onboarding"})
    assert anonymous.status_code == 401
    viewer = await client.post(
        url,
        json={"workflow_id": "customer_onboarding", "workflow_data": JOHN},
        headers=api_headers("vera"),
    )
    assert viewer.status_code == 403 and "approver" in viewer.json()["detail"]
    missing = await client.get("/api/workflows/executions/nope", headers=api_headers("bob"))
    assert missing.status_code == 404


async def test_proxy_mode_takes_user_and_roles_from_trusted_headers(settings: Settings) -> None:
    proxy = replace(settings, auth_mode="proxy", secret_key="x" * 40)
    async with http_client(create_app(proxy)) as test_client:
        nobody = await test_client.get("/workflows", headers=HTML)
        assert nobody.status_code == 401
        assert "X-Forwarded-User" in nobody.text
        headers = {
            **HTML,
            "X-Forwarded-User": "jane.doe",
            "X-Forwarded-Groups": "staff, stepladder-approvers",
        }
        page = await test_client.get("/workflows/customer_onboarding", headers=headers)
        assert page.status_code == 200
        assert "jane.doe" in page.text and "(approver)" in page.text
        assert "Execute workflow" in page.text


async def test_pages_may_only_be_framed_by_allowed_origins(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/health")
    assert response.headers["content-security-policy"] == "frame-ancestors 'self'"


def test_a_refused_role_reads_as_english() -> None:
    from app.web.guards import _article

    assert [_article(w) for w in ("approver", "admin", "viewer", "guest")] == ["an", "an", "a", "a"]
