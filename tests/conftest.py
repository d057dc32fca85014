"""Shared fixtures: a real PostgreSQL (a fresh database on a cluster of the session's own) and a
real Temporal dev server, both on free ports, a worker on a per-session task queue, and the app
under test."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from app.db.engine import migrate, tables_bound
from app.db.tables import TABLES
from app.devstack import scratch_database
from app.settings import Settings
from app.steps.seeding import seed_step_configs
from app.steps.service import evaluate_after_outcome
from app.temporal.worker import build_worker
from app.web.app import create_app
from app.web.identity import DEV_USER_HEADER, SESSION_COOKIE, SessionSigner
from tests.helpers import DEFINITIONS, Engine

pytest_plugins = ["tests.browser"]


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """The session's own database, migrated: on DATABASE_URL's server when that is set, else on a
    PostgreSQL cluster the session starts on a free port in a temp folder — so a session never
    meets another one, nor `make run` (EMBEDDED_POSTGRES_PORT, DATA_DIR), and stops only what
    it started."""
    async with scratch_database(Settings.from_env().database_url, "test") as url:
        await migrate(url)
        async with tables_bound(url):
            yield url


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A Temporal dev server of the session's own, on a port the SDK picks free."""
    temporal = Path(sys.executable).parent / "temporal"
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(temporal), ui=False)
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture(scope="session")
def settings(database_url: str, temporal_client: Client) -> Settings:
    base = Settings.from_env()
    return replace(
        base,
        database_url=database_url,
        temporal_address=temporal_client.service_client.config.target_host,
        task_queue=f"test-{uuid.uuid4().hex[:8]}",
        fault_injection=True,  # a test set-up: `simulate --failure-rate` is tested
    )


@pytest.fixture(scope="session")
async def worker(settings: Settings, temporal_client: Client) -> AsyncIterator[Worker]:
    """A real worker for the whole session, on the session's own task queue."""
    running = build_worker(
        temporal_client,
        settings.task_queue,
        on_outcome=evaluate_after_outcome,  # as `stepladder worker` does
        fault_injection=settings.fault_injection,
    )
    async with running:
        yield running


@pytest.fixture(autouse=True)
async def clean_tables(request: pytest.FixtureRequest) -> None:
    # Only tests that touch the database pay for the clean-up.
    if "database_url" not in request.fixturenames:
        return
    request.getfixturevalue("database_url")
    names = ", ".join(table._meta.tablename for table in TABLES)
    await TABLES[0].raw(f"TRUNCATE {names} RESTART IDENTITY")


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """Drive the app's ASGI lifespan in this event loop. (Litestar's AsyncTestClient runs the app
    through a blocking portal, which would freeze the in-loop worker while a request waits.)"""
    messages: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await messages.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, messages.get, replies.put))  # type: ignore[arg-type]
    started = await replies.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await messages.put({"type": "lifespan.shutdown"})
        await replies.get()
        await task


@asynccontextmanager
async def http_client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            yield c


@pytest.fixture
async def client(app: Litestar, worker: Worker) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(app) as test_client:
        yield test_client


@pytest.fixture
async def engine(
    temporal_client: Client, settings: Settings, worker: Worker, database_url: str
) -> Engine:
    """The execution service (and decisions) on the session worker, step configurations
    seeded (defaults)."""
    await seed_step_configs(DEFINITIONS.values())
    return Engine(temporal_client, DEFINITIONS, settings.task_queue)


def signed_in(client: httpx.AsyncClient, settings: Settings, user: str) -> httpx.AsyncClient:
    """Browser-style identity: the signed dev sign-in cookie."""
    client.cookies.set(SESSION_COOKIE, SessionSigner.from_settings(settings).sign(user))
    return client


def api_headers(user: str) -> dict[str, str]:
    return {DEV_USER_HEADER: user, "content-type": "application/json"}
