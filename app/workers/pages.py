"""The Workers page: who polls the task queue, or why that cannot be known now."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template

from app.domain.availability import ServiceUnavailable
from app.web.errors import SERVICE_NAMES
from app.workers.service import WorkerWatch


class WorkerPages(Controller):
    include_in_schema = False  # HTML pages: /schema documents the JSON API

    @get("/workers")
    async def workers(self, worker_watch: NamedDependency[WorkerWatch]) -> Template:
        """The pollers per queue; Temporal down: the page says so (503) instead of a list."""
        try:
            report = await worker_watch.report()
        except ServiceUnavailable as exc:
            down = f"{SERVICE_NAMES[exc.service]} is not answering: {exc.reason}"
            context = {"report": None, "down": down, "task_queue": worker_watch.task_queue}
            return Template("workers.html", context=context, status_code=503)
        return Template("workers.html", context={"report": report, "down": None})

    @get("/workers/banner")
    async def banner(self, worker_watch: NamedDependency[WorkerWatch]) -> Template:
        """`_worker_banner.html` alone: what the timeline's and inbox's banner polls (htmx)."""
        no_worker = await worker_watch.no_worker_polling()
        return Template("_worker_banner.html", context={"no_worker": no_worker})
