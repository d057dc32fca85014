"""Step configuration and analytics: the admins' form page, the analytics page, and their JSON API
(SPEC §4 and §5). Thin handlers over app.steps.service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, NotFoundException, PermissionDeniedException
from litestar.params import Body, JSONBody
from litestar.response import Redirect, Template

from app.domain import step_charts
from app.domain.definitions import StepDefinition, WorkflowDefinition
from app.domain.identity import Role, User
from app.domain.modes import PROMOTION_PATH, DeploymentMode, ImpactLevel
from app.domain.promotion import (
    CRITERION_LABELS,
    DEFAULT_CRITERIA,
    ModeChangeRefused,
    PromotionStatus,
    StepMetrics,
)
from app.executions.service import ExecutionService
from app.settings import Settings
from app.steps import service as promotions
from app.steps.service import (
    EditConflict,
    InvalidStepConfig,
    StepAnalytics,
    StepConfigEdit,
    StepSettings,
    UnknownStep,
)
from app.web.identity import require

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
EDITING = "Editing step configuration"
CRITERIA_HELP = {
    "min_success_rate": "percent, 0–100",
    "min_successful_runs": "runs",
    "min_days_in_mode": "days",
    "min_consecutive_successes": "runs in a row",
    "demotion_window": "last N runs watched for demotion",
}


def _page(**context: Any) -> dict[str, Any]:
    """Template context with what every step template uses beside its own values."""
    return {
        "criterion_labels": CRITERION_LABELS,
        "criteria_help": CRITERIA_HELP,
        "impact_levels": list(ImpactLevel),
        "width": step_charts.WIDTH,
        "height": step_charts.HEIGHT,
        "left": step_charts.LEFT,
        "right": step_charts.RIGHT,
        "top": step_charts.TOP,
        "bottom": step_charts.BOTTOM,
        **context,
    }


def _is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


def _definition(executions: ExecutionService, workflow_id: str) -> WorkflowDefinition:
    try:
        return executions.definition(workflow_id)
    except LookupError as exc:
        raise NotFoundException(str(exc)) from None


def _step(definition: WorkflowDefinition, step_id: str) -> tuple[int, StepDefinition]:
    for number, step in enumerate(definition.steps, start=1):
        if step.id == step_id:
            return number, step
    raise NotFoundException(str(UnknownStep(definition.id, step_id)))


def _number_text(value: float | int) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _saved_values(settings: StepSettings) -> dict[str, str]:
    return {
        "impact": settings.impact.value,
        "mode": settings.mode.value,
        "auto_promote": "on" if settings.auto_promote else "",
        "reason": "",
        "version": str(settings.version),
        **{name: _number_text(value) for name, value in settings.overrides.items()},
    }


@dataclass
class StepForm:
    """Everything one step's section of the configuration page shows."""

    number: int
    step: StepDefinition
    settings: StepSettings
    metrics: StepMetrics
    status: PromotionStatus
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    conflict: str = ""
    saved: bool = False

    @property
    def impact(self) -> ImpactLevel:
        try:
            return ImpactLevel(self.values.get("impact", ""))
        except ValueError:
            return self.settings.impact

    @property
    def modes(self) -> tuple[DeploymentMode, ...]:
        return PROMOTION_PATH[self.impact]

    @property
    def defaults(self) -> dict[str, str]:
        base = DEFAULT_CRITERIA[self.impact]
        return {name: _number_text(getattr(base, name)) for name in CRITERION_LABELS}


async def _forms(definition: WorkflowDefinition) -> dict[str, StepForm]:
    overview = await promotions.step_overview(definition)
    forms = {}
    for number, step in enumerate(definition.steps, start=1):
        if step.id not in overview:
            continue
        settings, metrics, status = overview[step.id]
        forms[step.id] = StepForm(number, step, settings, metrics, status, _saved_values(settings))
    return forms


def _edit_from_form(data: dict[str, str]) -> tuple[StepConfigEdit, dict[str, str]]:
    overrides, errors = promotions.parse_criteria_fields(data)
    try:
        version = int(data.get("version", ""))
    except ValueError:
        version = -1  # a form without its version cannot prove it saw the current values
    edit = StepConfigEdit(
        version=version,
        impact=data.get("impact", ""),
        mode=data.get("mode", ""),
        auto_promote=data.get("auto_promote", "") == "on",
        criteria=overrides,
        reason=data.get("reason", ""),
    )
    return edit, errors


class StepPages(Controller):
    path = "/workflows/{workflow_id:str}/steps"
    include_in_schema = False  # HTML pages; the JSON API below is the documented surface

    @get("/")
    async def configuration(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        executions: NamedDependency[ExecutionService],
        saved: str = "",
    ) -> Template:
        require(request.user, Role.ADMIN, EDITING)
        definition = _definition(executions, workflow_id)
        forms = await _forms(definition)
        if saved in forms:
            forms[saved].saved = True
        return Template("steps.html", context=_page(definition=definition, forms=forms.values()))

    @get("/{step_id:str}/form")
    async def form_for_impact(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        step_id: str,
        executions: NamedDependency[ExecutionService],
    ) -> Template:
        """The step's form redrawn for the values entered so far (htmx, when the impact changes:
        the mode list follows the impact's path). Saves nothing."""
        require(request.user, Role.ADMIN, EDITING)
        definition = _definition(executions, workflow_id)
        _step(definition, step_id)
        form = (await _forms(definition))[step_id]
        form.values = {**form.values, **dict(request.query_params)}
        form.values["version"] = str(form.settings.version)
        return Template("_step_config.html", context=_page(definition=definition, form=form))

    @post("/{step_id:str}/config", status_code=303)
    async def save(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        step_id: str,
        data: FormData,
        executions: NamedDependency[ExecutionService],
        settings: NamedDependency[Settings],
    ) -> Redirect | Template:
        require(request.user, Role.ADMIN, EDITING)
        definition = _definition(executions, workflow_id)
        _step(definition, step_id)
        edit, parse_errors = _edit_from_form(data)
        entered = {key: str(value) for key, value in data.items() if key != "_csrf_token"}
        status_code, errors, conflict = 200, dict(parse_errors), ""
        if not parse_errors:
            try:
                await promotions.save_config(definition, step_id, edit, request.user.name)
            except EditConflict as exc:
                status_code, conflict = 409, str(exc)
            except (InvalidStepConfig, ModeChangeRefused) as exc:
                status_code = 422
                errors = exc.errors if isinstance(exc, InvalidStepConfig) else {"mode": str(exc)}
        else:
            status_code = 422
        if status_code == 200 and not _is_htmx(request):
            target = f"{settings.path_prefix}/workflows/{quote(workflow_id)}/steps"
            return Redirect(f"{target}?saved={quote(step_id)}#step-{step_id}", status_code=303)
        forms = await _forms(definition)
        form = forms[step_id]
        if status_code == 200:
            form.saved = True
        else:
            # The admin's entries stay in the fields; after a conflict the form carries the
            # current version, so saving again applies them knowingly over what is there now.
            form.values = {**entered, "version": str(form.settings.version)}
            form.errors, form.conflict = errors, conflict
        if _is_htmx(request):
            return Template(
                "_step_config.html",
                context=_page(definition=definition, form=form),
                status_code=status_code,
            )
        return Template(
            "steps.html",
            context=_page(definition=definition, forms=forms.values()),
            status_code=status_code,
        )

    @get("/{step_id:str}")
    async def step_analytics(
        self,
        workflow_id: str,
        step_id: str,
        executions: NamedDependency[ExecutionService],
    ) -> Template:
        definition = _definition(executions, workflow_id)
        number, step = _step(definition, step_id)
        result = await promotions.analytics(definition, step_id)
        return Template("step.html", context=_analytics_context(definition, number, step, result))

    @post("/{step_id:str}/mode", status_code=303)
    async def change_mode(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        step_id: str,
        data: FormData,
        executions: NamedDependency[ExecutionService],
        settings: NamedDependency[Settings],
    ) -> Redirect | Template:
        """An admin's promotion or demotion by hand, with a reason, from the analytics page."""
        require(request.user, Role.ADMIN, "Changing a step's mode")
        definition = _definition(executions, workflow_id)
        number, step = _step(definition, step_id)
        to_mode, reason = data.get("to_mode", ""), data.get("reason", "").strip()
        errors: dict[str, str] = {}
        if not reason:
            errors["reason"] = "say why the mode changes"
        else:
            try:
                await promotions.change_mode(
                    definition, step_id, request.user.name, to_mode=to_mode, reason=reason
                )
            except ModeChangeRefused as exc:
                errors["to_mode"] = str(exc)
        if not errors:
            target = f"{settings.path_prefix}/workflows/{quote(workflow_id)}/steps/{quote(step_id)}"
            return Redirect(f"{target}#mode-history", status_code=303)
        result = await promotions.analytics(definition, step_id)
        context = _analytics_context(definition, number, step, result)
        context.update(mode_errors=errors, mode_values={"to_mode": to_mode, "reason": reason})
        return Template("step.html", context=context, status_code=422)


def _analytics_context(
    definition: WorkflowDefinition, number: int, step: StepDefinition, result: StepAnalytics
) -> dict[str, Any]:
    return _page(
        definition=definition,
        number=number,
        step=step,
        a=result,
        mode_errors={},
        mode_values={"to_mode": "", "reason": ""},
    )


# --- JSON API ----------------------------------------------------------------------------------


@dataclass
class StepConfigUpdate:
    """A step configuration edit: `version` as read; omitted fields keep their value; `criteria`
    replaces all overrides (an empty object means the impact's defaults throughout)."""

    version: int
    impact: str | None = None
    mode: str | None = None
    auto_promote: bool | None = None
    criteria: dict[str, Any] | None = None
    reason: str = ""


@dataclass
class ModeChangeRequest:
    """`to_mode` defaults to one hop along the path; `reason` is recorded in the audit trail."""

    to_mode: str = ""
    reason: str = ""


@dataclass
class FaultInjectionRequest:
    """Fraction (0-1) of the step's runs whose action fails on purpose."""

    failure_rate: float


def _criterion_json(status: PromotionStatus) -> dict[str, Any]:
    return {
        item.name: {
            "label": item.label,
            "current": item.current,
            "required": item.required,
            "met": item.met,
            "display": item.display,
        }
        for item in status.criteria
    }


def analytics_json(step: StepDefinition, a: StepAnalytics) -> dict[str, Any]:
    """SPEC §5's analytics shape, with more fields after the original ones."""
    m = a.metrics
    window = a.criteria.demotion_window
    return {
        "step_id": step.id,
        "step_name": step.name,
        "current_mode": a.settings.mode.value,
        "metrics": {
            "total_runs": m.total_runs,
            "success_rate": m.success_rate,
            "consecutive_successes": m.consecutive_successes,
            "successes": m.successes,
            "failures": m.failures,
            "days_in_mode": m.days_in_mode,
            "recent_success_rate": m.recent_success_rate(window),
            "demotion_window": window,
        },
        "promotion_ready": a.status.promotion_ready,
        "criteria_progress": _criterion_json(a.status),
        "estimated_promotion_in_days": (
            None if a.estimated_days is None else round(a.estimated_days, 2)
        ),
        "workflow_id": a.settings.workflow_id,
        "impact": a.settings.impact.value,
        "auto_promote": a.settings.auto_promote,
        "mode_since": a.settings.mode_since.isoformat(),
        "next_mode": a.status.next_mode.value if a.status.next_mode else None,
        "automatic_promotion": not a.not_automatic_because,
        "not_automatic_because": a.not_automatic_because or None,
        "recent_runs_per_day": a.runs_per_day,
        "all_time": {
            "total_runs": a.all_time_runs,
            "successes": a.all_time_successes,
            "success_rate": a.all_time_success_rate,
        },
        "fault_injection": None if a.fault_rate is None else {"failure_rate": a.fault_rate},
        "mode_history": [entry.to_json() for entry in a.history],
    }


def _unprocessable(exc: InvalidStepConfig | ModeChangeRefused) -> ClientException:
    errors = exc.errors if isinstance(exc, InvalidStepConfig) else {"to_mode": str(exc)}
    return ClientException(str(exc), status_code=422, extra={"errors": errors})


class StepApi(Controller):
    path = "/api/workflows/{workflow_id:str}"
    tags = ["steps"]

    @get("/steps")
    async def list_steps(
        self, workflow_id: str, executions: NamedDependency[ExecutionService]
    ) -> list[dict[str, Any]]:
        """Every step's configuration, in definition order."""
        definition = _definition(executions, workflow_id)
        saved = await promotions.load_settings(definition)
        return [
            {"step_name": step.name, **saved[step.id].to_json()}
            for step in definition.steps
            if step.id in saved
        ]

    @get("/steps/{step_id:str}")
    async def get_step(
        self, workflow_id: str, step_id: str, executions: NamedDependency[ExecutionService]
    ) -> dict[str, Any]:
        """One step's configuration; send its `version` back with a PUT."""
        definition = _definition(executions, workflow_id)
        _, step = _step(definition, step_id)
        saved = (await promotions.load_settings(definition))[step_id]
        return {"step_name": step.name, **saved.to_json()}

    @put("/steps/{step_id:str}")
    async def put_step(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        step_id: str,
        data: JSONBody[StepConfigUpdate],
        executions: NamedDependency[ExecutionService],
    ) -> dict[str, Any]:
        """Change a step's impact, mode, auto-promote or criteria. 409 (with the current values
        in `extra.current`) when `version` is not the saved one; a new mode needs a `reason`."""
        require(request.user, Role.ADMIN, EDITING)
        definition = _definition(executions, workflow_id)
        _, step = _step(definition, step_id)
        current = (await promotions.load_settings(definition))[step_id]
        edit = StepConfigEdit(
            version=data.version,
            impact=data.impact if data.impact is not None else current.impact.value,
            mode=data.mode if data.mode is not None else current.mode.value,
            auto_promote=current.auto_promote if data.auto_promote is None else data.auto_promote,
            criteria=current.overrides if data.criteria is None else data.criteria,
            reason=data.reason,
        )
        try:
            saved = await promotions.save_config(definition, step_id, edit, request.user.name)
        except EditConflict as exc:
            raise ClientException(
                str(exc), status_code=409, extra={"current": exc.current.to_json()}
            ) from None
        except (InvalidStepConfig, ModeChangeRefused) as exc:
            raise _unprocessable(exc) from None
        return {"step_name": step.name, **saved.to_json()}

    @get("/steps/{step_id:str}/analytics")
    async def get_analytics(
        self, workflow_id: str, step_id: str, executions: NamedDependency[ExecutionService]
    ) -> dict[str, Any]:
        """Metrics in the current mode, each criterion's progress, readiness, the estimate."""
        definition = _definition(executions, workflow_id)
        _, step = _step(definition, step_id)
        return analytics_json(step, await promotions.analytics(definition, step_id))

    async def _change(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        step_id: str,
        data: ModeChangeRequest | None,
        executions: ExecutionService,
        direction: str,
    ) -> dict[str, Any]:
        require(request.user, Role.ADMIN, "Changing a step's mode")
        definition = _definition(executions, workflow_id)
        _, step = _step(definition, step_id)
        body = data or ModeChangeRequest()
        try:
            change, saved = await promotions.change_mode(
                definition, step_id, request.user.name,
                to_mode=body.to_mode, reason=body.reason, direction=direction,
            )  # fmt: skip
        except ModeChangeRefused as exc:
            raise _unprocessable(exc) from None
        return {
            "step_id": step.id,
            "from_mode": change.from_mode.value,
            "to_mode": change.to_mode.value,
            "reason": change.reason,
            "changed_by": request.user.name,
            "current_mode": saved.mode.value,
            "version": saved.version,
        }

    @post("/steps/{step_id:str}/promote", status_code=200)
    async def promote(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        step_id: str,
        executions: NamedDependency[ExecutionService],
        data: JSONBody[ModeChangeRequest | None] = None,
    ) -> dict[str, Any]:
        """Promote by hand (admin): one hop up the impact's path, or to `to_mode` on it,
        whatever the criteria say. 422 at the ceiling or for a mode off the path."""
        return await self._change(request, workflow_id, step_id, data, executions, "promote")

    @post("/steps/{step_id:str}/demote", status_code=200)
    async def demote(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        step_id: str,
        executions: NamedDependency[ExecutionService],
        data: JSONBody[ModeChangeRequest | None] = None,
    ) -> dict[str, Any]:
        """Demote by hand (admin): one hop down the path, or to `to_mode` on it."""
        return await self._change(request, workflow_id, step_id, data, executions, "demote")

    @get("/mode-changes")
    async def mode_changes(
        self,
        workflow_id: str,
        executions: NamedDependency[ExecutionService],
        after_id: int = 0,
    ) -> list[dict[str, Any]]:
        """Every mode change of the workflow's steps, newest first (`after_id` for new ones)."""
        definition = _definition(executions, workflow_id)
        history = await promotions.mode_history(definition.id, after_id=after_id)
        return [entry.to_json() for entry in history]

    @put("/steps/{step_id:str}/fault-injection")
    async def inject_faults(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        step_id: str,
        data: JSONBody[FaultInjectionRequest],
        executions: NamedDependency[ExecutionService],
    ) -> dict[str, Any]:
        """Make the step's action fail on purpose at `failure_rate` (admin; for `simulate`)."""
        require(request.user, Role.ADMIN, "Injecting faults")
        definition = _definition(executions, workflow_id)
        _step(definition, step_id)
        settings: Settings = request.app.state.settings
        if not settings.fault_injection:
            raise PermissionDeniedException(
                "fault injection is off on this deployment: it is for development and test "
                "set-ups (FAULT_INJECTION=on; `stepladder run` turns it on)"
            )
        try:
            await promotions.set_fault(definition, step_id, data.failure_rate, request.user.name)
        except InvalidStepConfig as exc:
            raise _unprocessable(exc) from None
        return {"workflow_id": workflow_id, "step_id": step_id, "failure_rate": data.failure_rate}

    @delete("/steps/{step_id:str}/fault-injection")
    async def clear_faults(
        self,
        request: Request[User, str, Any],
        workflow_id: str,
        step_id: str,
        executions: NamedDependency[ExecutionService],
    ) -> None:
        """Stop failing on purpose."""
        require(request.user, Role.ADMIN, "Injecting faults")
        definition = _definition(executions, workflow_id)
        _step(definition, step_id)
        await promotions.clear_fault(definition, step_id)
