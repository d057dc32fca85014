"""The Litestar application factory: the one place the web process's pieces are wired together
(controllers, dependencies, templates, identity, CSRF and the lifespan's clients)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from app.approvals.api import ApprovalApi
from app.approvals.inbox import waiting_approvals
from app.approvals.pages import ApprovalPages
from app.approvals.service import DecisionService
from app.db.engine import tables_bound
from app.db.inbox_channel import listen
from app.definitions.controllers import (
    SeedExecutionApi,
    WorkflowApi,
    WorkflowPages,
    workflow_detail,
)
from app.definitions.lifecycle_api import WorkflowLifecycleApi, archive_workflow
from app.definitions.loader import load_definitions
from app.definitions.schedules import ScheduleSync, keep_syncing
from app.definitions.schedules_api import ScheduleApi
from app.definitions.schedules_control import ScheduleControl
from app.definitions.schedules_pages import ScheduleFormPages
from app.domain.approvals import Approver, DecisionAction, has_approved, may_approve, may_decide
from app.domain.definitions import WorkflowDefinition
from app.domain.modes import DeploymentMode
from app.domain.statuses import StepStatus
from app.domain.text import elapsed_text
from app.executions.api import ExecutionApi
from app.executions.limits import StartLimiter
from app.executions.listing import page_executions
from app.executions.pages import ExecutionPages
from app.executions.service import ExecutionService
from app.live.controllers import LiveController
from app.live.decided import DecidedPublisher
from app.live.executions_hub import ExecutionsList
from app.live.history import HistoryChanges
from app.live.inbox_hub import ApprovalInbox
from app.live.timeline_hub import TimelineHub
from app.live.tuning import LiveTuning
from app.live.updates import LiveUpdates
from app.observability.tracing import Tracing
from app.settings import REPO_ROOT, Settings
from app.steps.api import StepApi
from app.steps.pages import StepPages
from app.temporal.actions import ACTION_NAMES
from app.temporal.client import connect
from app.tokens.api import TokenApi
from app.tokens.pages import TokenPages
from app.web.api_docs import openapi_config
from app.web.api_paths import API_PATH_PATTERNS
from app.web.embedding import (
    cookie_policy,
    embed_paths,
    is_embedded,
    security_headers,
    template_prefix,
)
from app.web.errors import error_response
from app.web.health import health
from app.web.identity import IdentityMiddleware
from app.web.metrics import HTTP_METRICS, MetricsController
from app.web.presentation import since, status_words, when
from app.web.request_context import RequestContextMiddleware, bind_request_user
from app.web.sign_in import SignInController
from app.webhooks.api import WebhookApi
from app.webhooks.service import WebhookService
from app.workers.api import WorkerApi
from app.workers.pages import WorkerPages
from app.workers.service import WorkerWatch

log = logging.getLogger("stepladder.web")


def create_app(
    settings: Settings | None = None,
    *,
    definitions: dict[str, WorkflowDefinition] | None = None,
    live_tuning: LiveTuning | None = None,
    tracing: Tracing | None = None,
) -> Litestar:
    """The web app; `tracing` (default: from OTEL_TRACES_EXPORTER, shut down with the app) traces
    requests and the Temporal calls they make."""
    settings = settings or Settings.from_env()
    settings.require_services()
    loaded = definitions or load_definitions(settings.definitions_dir, ACTION_NAMES)
    tuning = live_tuning or LiveTuning.from_env()
    owns_tracing = tracing is None
    traces = tracing or Tracing.from_exporters(settings.traces_exporter, "stepladder-web")

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Lazy on purpose: `stepladder web` checks both first; here an outage must give 503s.
        async with tables_bound(settings.database_url) as engine:
            client = await connect(settings, lazy=True, interceptors=traces.temporal_interceptors())
            app.state.engine = engine
            app.state.temporal = client
            executions = ExecutionService(
                client, loaded, settings.task_queue, rpc_timeout=settings.temporal_rpc_timeout,
                limiter=StartLimiter(settings.start_rate_limit, settings.webhook_rate_limit),
            )  # fmt: skip
            app.state.executions = executions
            app.state.webhooks = WebhookService(executions, settings.webhook_secrets)
            app.state.schedule_control = ScheduleControl(
                executions, executions.lifecycle, settings.path_prefix
            )
            # In the background: Temporal down at start-up must neither block it nor give 500s.
            syncing = asyncio.create_task(
                keep_syncing(ScheduleSync(executions, executions.lifecycle))
            )
            app.state.worker_watch = WorkerWatch(
                client,
                settings.temporal_namespace,
                settings.task_queue,
                stale_after=settings.worker_stale_after,
                cache_seconds=settings.workers_cache_seconds,
                rpc_timeout=settings.temporal_rpc_timeout,
            )
            history = HistoryChanges(client)
            inbox = ApprovalInbox(lambda: waiting_approvals(loaded), tuning)
            app.state.live = LiveUpdates(
                timelines=TimelineHub(executions.timeline, tuning, changes=history.follow),
                inbox=inbox,
                history=history,
                # The list's rows hide steps announced decided, as the inbox does (one mask).
                executions=ExecutionsList(partial(page_executions, decided=inbox.mask), tuning),
            )
            # Every decision that ends a wait is announced to every web process's live pages.
            decided = DecidedPublisher(app.state.live)
            app.state.decisions = DecisionService(
                client, timeout=settings.decision_timeout, window=settings.decision_window,
                on_decided=decided,
            )  # fmt: skip
            listener = asyncio.create_task(
                listen(
                    settings.database_url, app.state.live.inbox.changed,
                    app.state.live.set_listening, on_decided=app.state.live.decided,
                    on_execution=app.state.live.executions.changed,
                    max_backoff=tuning.max_backoff,
                )
            )  # fmt: skip
            try:
                yield
            finally:
                syncing.cancel()
                listener.cancel()
                await decided.close()
                await app.state.live.close()
                if owns_tracing:
                    traces.shutdown()

    templates = TemplateConfig(directory=REPO_ROOT / "templates", engine=JinjaTemplateEngine)

    def template_globals(engine: JinjaTemplateEngine) -> None:
        engine.engine.globals.update(
            # `prefix()`: PATH_PREFIX, plus /embed inside a frame (app/web/embedding.py).
            prefix=template_prefix(settings),
            embedded=is_embedded,
            auth_mode=settings.auth_mode,
            status_words=status_words,  # beside each status icon (templates/_status.html)
            modes=DeploymentMode,
            StepStatus=StepStatus,
            DecisionAction=DecisionAction,
            # The approval policy, for the panel: the same rules the workflow's validator asks.
            approver=Approver.of,
            may_decide=may_decide,
            may_approve=may_approve,
            has_approved=has_approved,
        )
        engine.engine.filters["elapsed"] = elapsed_text  # durations as people write them
        engine.engine.filters["when"] = when  # every moment: <time>, zone and relative
        engine.engine.filters["since"] = since  # "12 min": how long ago

    templates.engine_callback = template_globals
    samesite, secure = cookie_policy(settings)

    app = Litestar(
        route_handlers=[
            ExecutionPages,
            ExecutionApi,
            WebhookApi,
            ApprovalPages,
            ApprovalApi,
            WorkflowPages,
            WorkflowApi,
            SeedExecutionApi,
            WorkflowLifecycleApi,
            ScheduleApi,
            ScheduleFormPages,
            LiveController,
            SignInController,
            StepPages,
            StepApi,
            TokenPages,
            TokenApi,
            WorkerPages,
            WorkerApi,
            health,
            MetricsController,
            archive_workflow,  # after WorkflowApi: it joins the GET's route (see its module)
            create_static_files_router(
                path="/static",
                directories=[Path(REPO_ROOT / "static")],
                opt={"exclude_from_auth": True},
            ),
            # After every controller: it shares its path with DELETE /api/workflows/{id}/.
            workflow_detail,
        ],
        lifespan=[lifespan],
        plugins=[HTMXPlugin(), *_tracing_plugins(traces)],
        dependencies={
            "settings": Provide(lambda: settings, sync_to_thread=False),
            "definitions": Provide(lambda: loaded, sync_to_thread=False),
            "executions": Provide(_state("executions"), sync_to_thread=False),
            "decisions": Provide(_state("decisions"), sync_to_thread=False),
            "webhooks": Provide(_state("webhooks"), sync_to_thread=False),
            "live": Provide(_state("live"), sync_to_thread=False),
            "worker_watch": Provide(_state("worker_watch"), sync_to_thread=False),
            "schedule_control": Provide(_state("schedule_control"), sync_to_thread=False),
        },
        middleware=[
            RequestContextMiddleware,
            HTTP_METRICS.middleware,
            DefineMiddleware(
                IdentityMiddleware,
                settings=settings,
                exclude=["^/health", "^/static", "^/schema", "^/metrics"],
            ),
        ],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="stepladder_csrf",
            header_name="x-csrftoken",
            cookie_samesite=samesite,
            cookie_secure=secure,
            # The JSON API authenticates by header, never by cookie, so cross-site forms can't use it.
            exclude=API_PATH_PATTERNS,
        ),
        template_config=templates,
        exception_handlers={Exception: error_response},
        # No logging set-up of Litestar's own (it would replace the root handler): the process's
        # is app.observability.logging's, and error_response logs unhandled errors.
        logging_config=None,
        before_request=bind_request_user,
        before_send=[security_headers(settings)],
        openapi_config=openapi_config(settings),
        state=State({"settings": settings}),
        debug=False,
    )
    # Before routing, so `/embed/...` reaches the same handlers (Litestar has no pre-routing hook).
    app.asgi_handler = embed_paths(app.asgi_handler)
    return app


def _tracing_plugins(tracing: Tracing) -> list[OpenTelemetryPlugin]:
    """Litestar's OpenTelemetry middleware (a server span per request) when tracing is on."""
    if tracing.provider is None:
        return []
    config = OpenTelemetryConfig(tracer_provider=tracing.provider, exclude=["^/health", "^/static"])
    return [OpenTelemetryPlugin(config)]


def _state(name: str) -> Any:
    """A dependency provider answering what the lifespan put on app state under `name`."""

    def provide(state: State) -> Any:
        return state[name]

    return provide
