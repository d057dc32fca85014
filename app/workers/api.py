"""`GET /api/workers`: the pollers Temporal reports on the app's task queue."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from app.web.errors import error_responses
from app.workers.schemas import WorkersReport
from app.workers.service import WorkerWatch


class WorkerApi(Controller):
    path = "/api/workers"
    tags = ["workers"]

    @get("/", responses=error_responses(401, 503))
    async def workers(self, worker_watch: NamedDependency[WorkerWatch]) -> WorkersReport:
        """Pollers on the workflow and the activity queue (identity, last access, rate), from
        Temporal's DescribeTaskQueue (cached a few seconds); `polling` is false when none
        polled within `stale_after_seconds`. Temporal down: 503 naming it."""
        return await worker_watch.report()
