"""The Litestar application factory: routes, templates, identity, CSRF and lifespan clients."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from litestar import Litestar, Response, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from app.approvals.inbox import waiting_approvals
from app.approvals.service import DecisionService
from app.db.engine import tables_bound
from app.definitions.loader import load_definitions
from app.domain.definitions import WorkflowDefinition
from app.domain.modes import DeploymentMode
from app.executions.api import ExecutionApi
from app.executions.lists import ListController
from app.executions.pages import PageController, SignInController
from app.executions.service import ExecutionService
from app.live.hub import (
    ApprovalInbox,
    LiveController,
    LiveTuning,
    LiveUpdates,
    TimelineHub,
    TimelineReader,
    provide_live,
)
from app.settings import REPO_ROOT, Settings
from app.steps.controllers import StepApi, StepPages
from app.temporal.actions import ACTION_NAMES
from app.temporal.client import connect
from app.web.errors import error_response
from app.web.health import check_health
from app.web.identity import IdentityMiddleware

log = logging.getLogger("stepladder.web")

STATUS_ICONS = {
    "pending": "⏳", "running": "▶", "completed": "✓", "failed": "✗", "skipped": "↷",
    "waiting_approval": "⏸", "rejected": "✗", "expired": "⌛", "cancelled": "■",
    "preparing": "⏳", "approved": "✓",
}  # fmt: skip


@get("/health", exclude_from_auth=True, exclude_from_csrf=True)
async def health(state: State) -> Response[dict[str, Any]]:
    checks = await check_health(state.engine, state.temporal)
    down = [name for name, check in checks.items() if not check.ok]
    body = {
        "status": "ok" if not down else "unavailable",
        "down": down,
        "checks": {name: asdict(check) for name, check in checks.items()},
    }
    return Response(body, status_code=200 if not down else 503)


def create_app(
    settings: Settings | None = None,
    *,
    definitions: dict[str, WorkflowDefinition] | None = None,
) -> Litestar:
    settings = settings or Settings.from_env()
    settings.require_services()
    definitions = definitions or load_definitions(settings.definitions_dir, ACTION_NAMES)
    live_tuning = LiveTuning.from_env()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Lazy on purpose: `stepladder web` checks both first; here an outage must give 503s.
        async with tables_bound(settings.database_url) as engine:
            client = await connect(settings, lazy=True)
            app.state.engine = engine
            app.state.temporal = client
            executions = ExecutionService(client, definitions, settings.task_queue)
            app.state.executions = executions
            app.state.decisions = DecisionService(client)
            app.state.live = LiveUpdates(
                timelines=TimelineHub(TimelineReader(client), live_tuning),
                inbox=ApprovalInbox(lambda: waiting_approvals(definitions), live_tuning),
            )
            try:
                yield
            finally:
                await app.state.live.close()

    templates = TemplateConfig(directory=REPO_ROOT / "templates", engine=JinjaTemplateEngine)

    def template_globals(engine: JinjaTemplateEngine) -> None:
        env = engine.engine
        env.globals.update(
            prefix=settings.path_prefix,
            auth_mode=settings.auth_mode,
            status_icons=STATUS_ICONS,
            modes=DeploymentMode,
        )

    templates.engine_callback = template_globals
    frame_ancestors = " ".join(settings.frame_ancestors)

    async def security_headers(response: Response[Any]) -> Response[Any]:
        response.headers["Content-Security-Policy"] = f"frame-ancestors {frame_ancestors}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return Litestar(
        route_handlers=[
            PageController,
            SignInController,
            ListController,
            LiveController,
            ExecutionApi,
            StepPages,
            StepApi,
            health,
            create_static_files_router(
                path="/static",
                directories=[Path(REPO_ROOT / "static")],
                opt={"exclude_from_auth": True},
            ),
        ],
        lifespan=[lifespan],
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "executions": Provide(_executions, sync_to_thread=False),
            "decisions": Provide(_decisions, sync_to_thread=False),
            "live": Provide(provide_live, sync_to_thread=False),
        },
        middleware=[
            DefineMiddleware(
                IdentityMiddleware,
                settings=settings,
                exclude=["^/health", "^/static", "^/schema", "^/metrics"],
            )
        ],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="stepladder_csrf",
            header_name="x-csrftoken",
            # The JSON API authenticates by header, never by cookie, so cross-site forms can't use it.
            exclude=["/api/"],
        ),
        template_config=templates,
        exception_handlers={Exception: error_response},
        after_request=security_headers,
        openapi_config=OpenAPIConfig(title="Stepladder", version="0.1.0", path="/schema"),
        state=State({"settings": settings}),
        debug=False,
    )


def _executions(state: State) -> ExecutionService:
    service: ExecutionService = state.executions
    return service


def _decisions(state: State) -> DecisionService:
    service: DecisionService = state.decisions
    return service
