"""A database outage delays records and drops none: the worker reaches PostgreSQL through a
TCP relay that the test cuts while a decision is being recorded, then restores."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator

from temporalio.client import Client

from app.db.tables import ApprovalDecision, DemoContact, StepConfig, StepRun
from app.domain.identity import DEMO_USERS
from app.settings import Settings
from app.steps.seeding import seed_step_configs
from tests.browser import free_port
from tests.helpers import DEFINITIONS, Engine, finished, waiting_at
from tests.test_worker_restart import worker_process

BASIC = {"name": "Outage", "email": "outage@example.com", "tier": "basic"}


class Relay:
    """Forwards 127.0.0.1:port to PostgreSQL; `cut()` drops every connection and refuses new
    ones, as a database outage would; `restore()` listens again on the same port."""

    def __init__(self, port: int, target_port: int) -> None:
        self.port, self.target_port = port, target_port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {client_w, server_w}
        await asyncio.gather(self._pipe(client_r, server_w), self._pipe(server_r, client_w))

    async def restore(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        self.writers.clear()
        await self.server.wait_closed()


@contextlib.asynccontextmanager
async def relay_to(target_port: int) -> AsyncIterator[Relay]:
    relay = Relay(free_port(), target_port)
    await relay.restore()
    try:
        yield relay
    finally:
        if relay.server is not None:
            relay.server.close()


@contextlib.asynccontextmanager
async def engine_behind_relay(
    client: Client, settings: Settings, database_url: str
) -> AsyncIterator[tuple[Engine, Relay]]:
    """A `stepladder worker` process that reaches PostgreSQL only through a relay, and an
    engine starting executions on its queue; the test itself reaches PostgreSQL directly."""
    await seed_step_configs(DEFINITIONS.values())
    queue = f"outage-{uuid.uuid4().hex[:8]}"
    pg_port = int(database_url.rsplit(":", 1)[1].split("/", 1)[0])
    async with relay_to(pg_port) as relay:
        via_relay = database_url.replace(f":{pg_port}/", f":{relay.port}/")
        async with worker_process(settings, queue, database_url=via_relay):
            yield Engine(client, DEFINITIONS, queue), relay


async def test_decisions_and_outcomes_recorded_during_an_outage_land_once_it_ends(
    temporal_client: Client, settings: Settings, database_url: str
) -> None:
    async with engine_behind_relay(temporal_client, settings, database_url) as (engine, relay):
        execution_id = await engine.start("customer_onboarding", BASIC, DEMO_USERS["bob"])
        await waiting_at(engine, execution_id, "create_crm_record")
        ask = (await engine.timeline(execution_id)).steps[2].approval
        assert ask is not None

        await relay.cut()
        # The decision needs no database: the workflow accepts it at once...
        outcome = await engine.decide(execution_id, "create_crm_record", DEMO_USERS["bob"],
                                      "approved", confirmations=ask.confirmations)  # fmt: skip
        assert outcome.step_status == "approved"
        # ...and holds the step until its record is in PostgreSQL. Watch a few seconds of
        # outage (a window, not a wait for state: the point is that nothing moves).
        until = time.monotonic() + 3
        while time.monotonic() < until:
            timeline = await engine.timeline(execution_id)
            assert timeline.steps[2].status == "approved", timeline.steps[2]
            await asyncio.sleep(0.2)
        assert await ApprovalDecision.count() == 0

        await relay.restore()
        await waiting_at(engine, execution_id, "setup_billing_account")
        await engine.decide(execution_id, "setup_billing_account", DEMO_USERS["carol"],
                            "approved", typed_confirmation="CONFIRM BILLING")  # fmt: skip
        timeline = await finished(engine, execution_id)

    assert timeline.status == "completed"
    assert await ApprovalDecision.count().where(ApprovalDecision.execution_id == execution_id) == 2
    assert await StepRun.count().where(StepRun.execution_id == execution_id) == 5
    assert await DemoContact.count() == 1


async def test_a_step_reached_during_an_outage_waits_for_its_mode_then_runs_in_it(
    temporal_client: Client, settings: Settings, database_url: str
) -> None:
    """The mode is read when the step is reached; while PostgreSQL is unreachable the step
    neither runs (in a guessed mode) nor fails: it waits, and runs in the mode the database
    holds once it is back — here one an admin set during the outage."""
    async with engine_behind_relay(temporal_client, settings, database_url) as (engine, relay):
        # A first execution proves the worker is up and connected before the outage.
        first = await engine.start("customer_onboarding", BASIC, DEMO_USERS["bob"])
        await waiting_at(engine, first, "create_crm_record")
        await engine.cancel(first)
        await finished(engine, first)

        await relay.cut()
        execution_id = await engine.start("customer_onboarding", BASIC, DEMO_USERS["bob"])
        until = time.monotonic() + 3
        while time.monotonic() < until:
            timeline = await engine.timeline(execution_id)
            assert timeline.status == "running"
            assert timeline.steps[0].status in ("pending", "running"), timeline.steps[0]
            await asyncio.sleep(0.2)
        # The timeline says why the step does not move.
        assert timeline.steps[0].summary == "Waiting for PostgreSQL to read this step's mode…"
        # The test reaches PostgreSQL directly; the worker does not.
        await StepConfig.update({StepConfig.mode: "validation_required"}).where(
            StepConfig.step_id == "validate_email"
        )
        await relay.restore()
        timeline = await waiting_at(engine, execution_id, "validate_email")
        assert timeline.steps[0].mode == "validation_required"
        await engine.decide(execution_id, "validate_email", DEMO_USERS["carol"], "approved")
        timeline = await waiting_at(engine, execution_id, "create_crm_record")
        assert [s.status for s in timeline.steps[:2]] == ["completed", "completed"]
        await engine.cancel(execution_id)
        await finished(engine, execution_id)

    rows = await StepRun.select(StepRun.step_id, StepRun.mode, StepRun.status).where(
        StepRun.execution_id == execution_id
    )
    by_step = {row["step_id"]: (row["mode"], row["status"]) for row in rows}
    assert by_step["validate_email"] == ("validation_required", "completed")
    assert by_step["check_duplicates"][1] == "completed"
