"""Health of the two engines the app depends on: PostgreSQL and Temporal."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString
from temporalio.client import Client


@dataclass
class Check:
    ok: bool
    latency_ms: float
    detail: str


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
        _timed(engine.run_querystring(QueryString("SELECT 1")), timeout),
        _timed(client.service_client.check_health(), timeout),
    )
    return {"postgresql": postgres, "temporal": temporal}
