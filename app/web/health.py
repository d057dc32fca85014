"""`GET /health`: whether the two engines the app depends on, PostgreSQL and Temporal, answer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from litestar import Response, get
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from piccolo.engine.postgres import PostgresEngine
from temporalio.client import Client

from app.db.engine import ping


@dataclass
class Check:
    ok: bool
    latency_ms: float
    detail: str


@dataclass
class Health:
    """`ok` with every check passing; else `unavailable` (503) and `down` names the engines."""

    status: str
    down: list[str]
    checks: dict[str, Check]


async def _timed(probe: Any, timeout: float) -> Check:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe, timeout)
    except Exception as exc:  # any failure means "down"; the detail says which
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return Check(False, round((time.perf_counter() - started) * 1000, 1), reason)
    return Check(True, round((time.perf_counter() - started) * 1000, 1), "ok")


async def check_health(
    engine: PostgresEngine, client: Client, timeout: float = 3.0
) -> dict[str, Check]:
    postgres, temporal = await asyncio.gather(
        _timed(ping(engine), timeout),
        _timed(client.service_client.check_health(), timeout),
    )
    return {"postgresql": postgres, "temporal": temporal}


@get(
    "/health",
    exclude_from_auth=True,
    exclude_from_csrf=True,
    responses={
        503: ResponseSpec(data_container=Health, description="PostgreSQL or Temporal is down")
    },
)
async def health(state: State) -> Response[Health]:
    checks = await check_health(state.engine, state.temporal)
    down = [name for name, check in checks.items() if not check.ok]
    body = Health(status="ok" if not down else "unavailable", down=down, checks=checks)
    return Response(body, status_code=200 if not down else 503)
