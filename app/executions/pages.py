"""HTML pages: thin handlers that call a service and render a template (or its partial)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body
from litestar.response import Redirect, Template

from app.approvals.http import REFUSAL_STATUS, nudge_live
from app.approvals.service import DecisionRefused, DecisionService
from app.domain.approvals import Decision
from app.domain.identity import DEMO_USERS, Role, User
from app.executions.service import ExecutionService, InvalidInput, UnknownExecution
from app.settings import Settings
from app.web.identity import SESSION_COOKIE, require, sign

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


class SignInController(Controller):
    path = "/auth"

    @get("/sign-in", exclude_from_auth=True)
    async def sign_in_page(self, settings: NamedDependency[Settings], next: str = "/") -> Template:
        return Template(
            "sign_in.html",
            context={
                "demo_users": DEMO_USERS.values(),
                "next": _safe_next(next),
                "settings": settings,
            },
        )

    @post("/sign-in", exclude_from_auth=True, status_code=303)
    async def sign_in(self, data: FormData, settings: NamedDependency[Settings]) -> Redirect:
        user = DEMO_USERS.get(data.get("user", ""))
        if settings.auth_mode != "dev" or user is None:
            return Redirect(
                f"{settings.path_prefix}/auth/sign-in?error=unknown-user", status_code=303
            )
        response = Redirect(
            settings.path_prefix + _safe_next(data.get("next", "/")), status_code=303
        )
        response.cookies.append(
            Cookie(key=SESSION_COOKIE, value=sign(settings.secret_key, user.name),
                   httponly=True, samesite="lax", path="/")
        )  # fmt: skip
        return response

    @post("/sign-out", status_code=303)
    async def sign_out(self, settings: NamedDependency[Settings]) -> Redirect:
        response = Redirect(f"{settings.path_prefix}/auth/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


def _safe_next(target: str) -> str:
    # Only same-site paths: an open redirect would let a link sign someone in elsewhere.
    return target if target.startswith("/") and not target.startswith("//") else "/"


class PageController(Controller):
    @get("/workflows")
    async def workflows(self, executions: NamedDependency[ExecutionService]) -> Template:
        return Template("workflows.html", context={"definitions": executions.definitions.values()})

    @get("/workflows/{workflow_id:str}")
    async def workflow(
        self, workflow_id: str, executions: NamedDependency[ExecutionService]
    ) -> Template:
        definition = _definition_or_404(executions, workflow_id)
        return Template(
            "workflow.html",
            context={
                "definition": definition,
                "values": {f.name: f.default or "" for f in definition.inputs},
                "errors": {},
                "recent": await executions.recent(limit=10, workflow_id=workflow_id),
            },
        )

    @post("/workflows/{workflow_id:str}/executions", status_code=303)
    async def start_execution(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        data: FormData,
        executions: NamedDependency[ExecutionService],
        settings: NamedDependency[Settings],
    ) -> Redirect | Template:
        require(request.user, Role.APPROVER, "Starting an execution")
        definition = _definition_or_404(executions, workflow_id)
        values = {f.name: data.get(f.name, "") for f in definition.inputs}
        try:
            execution_id = await executions.start(workflow_id, values, request.user)
        except InvalidInput as exc:
            # Errors beside their fields, values kept, 422 so htmx and tests see the refusal.
            return Template(
                "workflow.html",
                context={"definition": definition, "values": values, "errors": exc.errors,
                         "recent": await executions.recent(limit=10, workflow_id=workflow_id)},
                status_code=422,
            )  # fmt: skip
        return Redirect(f"{settings.path_prefix}/executions/{quote(execution_id)}", status_code=303)

    @get("/executions/{execution_id:str}")
    async def execution(
        self,
        request: Request[User, str, Any],
        execution_id: str,
        executions: NamedDependency[ExecutionService],
    ) -> Template:
        try:
            timeline = await executions.timeline(execution_id)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        template = "_timeline.html" if is_htmx(request) else "execution.html"
        return Template(template, context={"timeline": timeline})

    @post("/executions/{execution_id:str}/steps/{step_id:str}/decision", status_code=303)
    async def decide(
        self,
        request: Request[User, str, Any],
        execution_id: str,
        step_id: str,
        executions: NamedDependency[ExecutionService],
        decisions: NamedDependency[DecisionService],
        settings: NamedDependency[Settings],
    ) -> Redirect | Template:
        """The approval panel's form: Approve & Continue or Reject. Without JS it redirects back
        to the timeline; with htmx it answers the timeline partial. A refusal re-renders the
        timeline with the reason beside the panel and everything entered kept."""
        form = await request.form()
        action = str(form.get("action", ""))
        confirmations = [str(c) for c in form.getall("confirmation", [])]
        typed, reason = str(form.get("typed_confirmation", "")), str(form.get("reason", ""))
        entered = {"action": action, "confirmations": confirmations,
                   "typed_confirmation": typed, "reason": reason}  # fmt: skip
        try:
            decision = Decision.by(
                request.user, step_id, action, source="web", confirmations=confirmations,
                typed_confirmation=typed, reason=reason,
            )  # fmt: skip
            await decisions.decide(execution_id, decision)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        except DecisionRefused as exc:
            return Template(
                "_timeline.html" if is_htmx(request) else "execution.html",
                context={
                    "timeline": await executions.timeline(execution_id),
                    "decision_error": {"step_id": step_id, "message": exc.message},
                    "entered": entered,
                },
                status_code=REFUSAL_STATUS[exc.kind],
            )
        nudge_live(request, execution_id)
        if is_htmx(request):
            return Template(
                "_timeline.html", context={"timeline": await executions.timeline(execution_id)}
            )
        target = f"{settings.path_prefix}/executions/{quote(execution_id)}#step-{quote(step_id)}"
        return Redirect(target, status_code=303)

    @post("/executions/{execution_id:str}/cancel", status_code=303)
    async def cancel(
        self,
        request: Request[User, str, Any],
        execution_id: str,
        executions: NamedDependency[ExecutionService],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        require(request.user, Role.APPROVER, "Cancelling an execution")
        try:
            await executions.cancel(execution_id)
        except UnknownExecution as exc:
            raise NotFoundException(str(exc)) from None
        nudge_live(request, execution_id)
        return Redirect(f"{settings.path_prefix}/executions/{quote(execution_id)}", status_code=303)


def _definition_or_404(executions: NamedDependency[ExecutionService], workflow_id: str) -> Any:
    try:
        return executions.definition(workflow_id)
    except LookupError as exc:
        raise NotFoundException(str(exc)) from None
