"""Connecting to Temporal with a one-line error when it does not answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime

from app.settings import Settings


class TemporalUnavailable(RuntimeError):
    """Temporal did not answer at the configured address."""


async def connect(
    settings: Settings,
    timeout: float = 10.0,
    *,
    lazy: bool = False,
    interceptors: Sequence[Interceptor] = (),
    runtime: Runtime | None = None,
) -> Client:
    """Connect now (and fail in one line), or lazily so a web process can start and say 503.
    `interceptors` (tracing) apply to the client's calls and to workers built on it; `runtime`
    when given (the worker's, serving its metrics)."""
    try:
        return await asyncio.wait_for(
            Client.connect(
                settings.temporal_address,
                namespace=settings.temporal_namespace,
                lazy=lazy,
                interceptors=interceptors,
                runtime=runtime,
            ),
            timeout,
        )
    except (TimeoutError, RuntimeError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TemporalUnavailable(
            f"cannot reach Temporal at {settings.temporal_address} "
            f"(namespace {settings.temporal_namespace}): {reason}"
        ) from None
