"""Who polls the task queue, asked of Temporal (DescribeTaskQueue on the workflow and the
activity queue), with a short per-process cache so banners cost no RPC per request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import PollerInfo, TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from app.domain.availability import ServiceUnavailable, first_line
from app.domain.text import duration_text
from app.workers.schemas import Poller, QueuePollers, WorkersReport

QUEUE_KINDS = {
    "workflow": TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    "activity": TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
}


def _poller(info: PollerInfo, now: datetime) -> Poller:
    seen = info.last_access_time.ToDatetime(UTC) if info.HasField("last_access_time") else None
    ago = max(0.0, (now - seen).total_seconds()) if seen else None
    return Poller(
        identity=info.identity,
        last_access_time=seen,
        seconds_ago=ago,
        last_access_ago=f"{duration_text(ago)} ago" if ago is not None else "unknown",
        # Temporal reports 100,000/s when the worker set no limit (the server's default).
        rate_per_second=info.rate_per_second if 0 < info.rate_per_second < 100_000 else None,
    )


class WorkerWatch:
    """Reads the pollers of `task_queue` from Temporal. A report is reused for `cache_seconds`
    (also a failure: while Temporal is down, a page asks it once per period, not per request);
    `stale_after` seconds without any poll means no worker is polling."""

    def __init__(
        self,
        client: Client,
        namespace: str,
        task_queue: str,
        *,
        stale_after: float = 90.0,
        cache_seconds: float = 5.0,
        rpc_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.task_queue = task_queue
        self.stale_after = stale_after
        self.cache_seconds = cache_seconds
        self.rpc_timeout = rpc_timeout
        self.clock = clock
        self.describes = 0  # DescribeTaskQueue calls made (each report costs two)
        self._cached: tuple[float, WorkersReport | ServiceUnavailable] | None = None
        self._lock = asyncio.Lock()

    async def report(self) -> WorkersReport:
        """The pollers on the workflow and activity queues. Raises ServiceUnavailable naming
        Temporal when it does not answer within the RPC deadline."""
        async with self._lock:  # concurrent readers share one round of RPCs
            if self._cached is None or self.clock() - self._cached[0] >= self.cache_seconds:
                try:
                    found: WorkersReport | ServiceUnavailable = await self._describe()
                except ServiceUnavailable as exc:
                    found = exc
                self._cached = (self.clock(), found)
            result = self._cached[1]
        if isinstance(result, ServiceUnavailable):
            raise result
        return result

    async def no_worker_polling(self) -> bool:
        """True when Temporal answers and no poller reached the queue within `stale_after`:
        the banner's question. Temporal down is not this banner's news (False)."""
        try:
            return not (await self.report()).polling
        except ServiceUnavailable:
            return False

    async def _describe(self) -> WorkersReport:
        found = {kind: await self._pollers(queue_type) for kind, queue_type in QUEUE_KINDS.items()}
        now = datetime.now(UTC)
        queues = [
            QueuePollers(kind=kind, pollers=[_poller(info, now) for info in infos])
            for kind, infos in found.items()
        ]
        agos = [p.seconds_ago for q in queues for p in q.pollers if p.seconds_ago is not None]
        newest = min(agos) if agos else None
        return WorkersReport(
            namespace=self.namespace,
            task_queue=self.task_queue,
            checked_at=now,
            stale_after_seconds=self.stale_after,
            polling=newest is not None and newest <= self.stale_after,
            queues=queues,
            last_poll_seconds_ago=newest,
        )

    async def _pollers(self, queue_type: TaskQueueType.ValueType) -> list[PollerInfo]:
        request = DescribeTaskQueueRequest(
            namespace=self.namespace,
            task_queue=TaskQueue(name=self.task_queue),
            task_queue_type=queue_type,
        )
        self.describes += 1
        try:
            # retry=True: the SDK's policy retries transient codes with backoff (CANCELLED,
            # UNAVAILABLE: the dev server once answered "operation was canceled" while a
            # worker stopped); the outer deadline still bounds the whole call.
            async with asyncio.timeout(self.rpc_timeout + 1):
                response = await self.client.workflow_service.describe_task_queue(
                    request, retry=True, timeout=timedelta(seconds=self.rpc_timeout)
                )
        except (RPCError, RuntimeError, TimeoutError) as exc:
            raise ServiceUnavailable("temporal", first_line(exc)) from None
        return list(response.pollers)
