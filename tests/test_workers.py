"""Worker visibility from Temporal (DescribeTaskQueue), against the session's real dev server:
the Workers page and API list the worker, the banner appears once a worker stops, and Temporal
down is said as such."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from app.settings import Settings
from app.steps.seeding import seed_step_configs
from app.steps.service import evaluate_after_outcome
from app.temporal.worker import build_worker
from app.web.app import create_app
from app.workers.service import WorkerWatch
from tests.conftest import api_headers, http_client, signed_in
from tests.helpers import DEFINITIONS, eventually

BANNER = (
    "No worker is polling the task queue: steps will not run and approvals will not apply"
    " until a worker is back"
)
JOHN = {"name": "John Doe", "email": "john@example.com", "tier": "premium"}


async def test_the_workers_api_and_page_list_the_session_worker(
    client: httpx.AsyncClient, worker: Worker, temporal_client: Client, settings: Settings
) -> None:
    identity = temporal_client.identity  # the session worker's (a worker takes its client's)

    async def report() -> dict[str, Any]:
        response = await client.get("/api/workers", headers=api_headers("vera"))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def lists_the_worker(body: dict[str, Any]) -> bool:
        return all(
            identity in [p["identity"] for p in queue["pollers"]] for queue in body["queues"]
        )

    body = await eventually(report, lists_the_worker)
    assert body["task_queue"] == settings.task_queue and body["polling"] is True
    assert [q["kind"] for q in body["queues"]] == ["workflow", "activity"]
    poller = next(p for p in body["queues"][0]["pollers"] if p["identity"] == identity)
    assert poller["last_access_time"].endswith(("+00:00", "Z"))  # with its zone
    assert poller["last_access_ago"].endswith(" s ago") and poller["seconds_ago"] < 90
    assert (await client.get("/api/workers/", headers=api_headers("vera"))).status_code == 200

    page = await signed_in(client, settings, "vera").get(
        "/workers", headers={"accept": "text/html"}
    )
    assert page.status_code == 200
    assert identity in page.text and "ago" in page.text and "UTC" in page.text
    assert BANNER not in page.text
    assert 'href="/workers"' in page.text  # the nav link


async def test_the_banner_appears_on_timeline_and_inbox_once_the_worker_stops(
    settings: Settings, temporal_client: Client, database_url: str
) -> None:
    """A worker of the test's own on a fresh task queue, with a short threshold (the setting)
    and no cache, so the test is fast."""
    await seed_step_configs(DEFINITIONS.values())
    own = replace(
        settings,
        task_queue=f"workers-{uuid.uuid4().hex[:8]}",
        worker_stale_after=5.0,
        workers_cache_seconds=0.0,
        temporal_rpc_timeout=1.0,
    )
    second = build_worker(
        temporal_client, own.task_queue, on_outcome=evaluate_after_outcome, fault_injection=False
    )
    async with http_client(create_app(own)) as client:
        bob = signed_in(client, own, "bob")
        async with second:
            started = await client.post(
                "/api/workflows/executions/start",
                json={"workflow_id": "customer_onboarding", "workflow_data": JOHN},
                headers=api_headers("bob"),
            )
            execution_id = started.json()["execution_id"]
            page = f"/executions/{execution_id}"

            async def waiting() -> dict[str, Any]:
                read = await client.get(
                    page, headers={**api_headers("bob"), "accept": "application/json"}
                )
                body: dict[str, Any] = read.json()
                return body

            await eventually(
                waiting, lambda t: any(s["status"] == "waiting_approval" for s in t["steps"])
            )
            timeline = await bob.get(page, headers={"accept": "text/html"})
            assert timeline.status_code == 200 and BANNER not in timeline.text
            inbox = await bob.get("/approvals", headers={"accept": "text/html"})
            assert inbox.status_code == 200 and BANNER not in inbox.text
        # The worker has stopped: once its last poll is older than the threshold, the banner.

        async def html(path: str) -> str:
            return (await bob.get(path, headers={"accept": "text/html"})).text

        # A page left open polls the banner alone (htmx), served from the cached report.
        assert 'hx-get="/workers/banner"' in timeline.text
        await eventually(lambda: html("/workers/banner"), lambda text: BANNER in text, timeout=30)
        assert BANNER in await html(page)
        assert BANNER in await html("/approvals")
        assert 'href="/workers"' in await html("/approvals")
        workers = await client.get("/api/workers", headers=api_headers("vera"))
        assert workers.json()["polling"] is False


async def test_temporal_down_the_workers_api_is_503_and_the_page_says_so(
    settings: Settings, database_url: str
) -> None:
    down = replace(settings, temporal_address="127.0.0.1:1", temporal_rpc_timeout=1.0)
    async with http_client(create_app(down)) as client:
        api = await client.get("/api/workers", headers=api_headers("vera"))
        assert api.status_code == 503
        assert "Temporal" in api.json()["detail"] and api.json()["extra"]["service"] == "temporal"
        page = await signed_in(client, down, "vera").get(
            "/workers", headers={"accept": "text/html"}
        )
        assert (
            page.status_code == 503
            and "Temporal (the workflow engine) is not answering" in page.text
        )


async def test_a_report_is_reused_within_the_cache_period(
    temporal_client: Client, worker: Worker, settings: Settings
) -> None:
    now = [100.0]
    watch = WorkerWatch(
        temporal_client, settings.temporal_namespace, settings.task_queue,
        cache_seconds=5.0, rpc_timeout=15.0, clock=lambda: now[0],
    )  # fmt: skip
    first = await watch.report()
    assert await watch.report() is first and watch.describes == 2  # one per queue kind, once
    now[0] += 5.0
    assert await watch.report() is not first and watch.describes == 4
