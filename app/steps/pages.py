"""The step pages: the admins' configuration form (one section per step, swapped alone by htmx)
and a step's analytics page with its by-hand mode change (SPEC §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from litestar import Controller, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.domain import step_charts
from app.domain.criteria import CRITERION_LABELS, DEFAULT_CRITERIA
from app.domain.definitions import StepDefinition, WorkflowDefinition
from app.domain.identity import Role
from app.domain.modes import PROMOTION_PATH, DeploymentMode, ImpactLevel
from app.domain.promotion import ModeChangeRefused, PromotionStatus, StepMetrics
from app.domain.step_config import StepConfigEdit, StepSettings, parse_criteria_fields
from app.settings import Settings
from app.steps import manual
from app.steps.analytics import HISTORY_SHOWN, StepAnalytics, analytics, step_overview
from app.steps.configuration import EditConflict, InvalidStepConfig, save_config
from app.steps.dependencies import numbered_step, provide_definition
from app.web.embedding import base_path
from app.web.guards import requires

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
EDITING = "Editing step configuration"
CHANGING_MODE = "Changing a step's mode"
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
    overview = await step_overview(definition)
    forms = {}
    for number, step in enumerate(definition.steps, start=1):
        if step.id not in overview:
            continue
        p = overview[step.id]
        values = _saved_values(p.settings)
        forms[step.id] = StepForm(number, step, p.settings, p.metrics, p.status, values)
    return forms


def _edit_from_form(data: dict[str, str]) -> tuple[StepConfigEdit, dict[str, str]]:
    overrides, errors = parse_criteria_fields(data)
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


async def _try_save(
    definition: WorkflowDefinition, step_id: str, data: dict[str, str], user: str
) -> tuple[int, dict[str, str], str]:
    """Save the posted form: (HTTP status, field errors, conflict message)."""
    edit, parse_errors = _edit_from_form(data)
    if parse_errors:
        return 422, parse_errors, ""
    try:
        await save_config(definition, step_id, edit, user)
    except EditConflict as exc:
        return 409, {}, str(exc)
    except InvalidStepConfig as exc:
        return 422, exc.errors, ""
    except ModeChangeRefused as exc:
        return 422, {"mode": str(exc)}, ""
    return 200, {}, ""


def _analytics_context(
    definition: WorkflowDefinition, number: int, step: StepDefinition, result: StepAnalytics
) -> dict[str, Any]:
    return _page(
        definition=definition,
        number=number,
        step=step,
        a=result,
        history_shown=HISTORY_SHOWN,
        mode_errors={},
        mode_values={"to_mode": "", "reason": ""},
    )


class StepPages(Controller):
    path = "/workflows/{workflow_id:str}/steps"
    include_in_schema = False  # HTML pages; the JSON API (app/steps/api.py) is documented
    dependencies = {"definition": Provide(provide_definition, sync_to_thread=False)}

    @get("/", guards=[requires(Role.ADMIN, EDITING)])
    async def configuration(
        self, definition: NamedDependency[WorkflowDefinition], saved: str = ""
    ) -> Template:
        forms = await _forms(definition)
        if saved in forms:
            forms[saved].saved = True
        return Template("steps.html", context=_page(definition=definition, forms=forms.values()))

    @get("/{step_id:str}/form", guards=[requires(Role.ADMIN, EDITING)])
    async def form_for_impact(
        self, request: HTMXRequest, definition: NamedDependency[WorkflowDefinition], step_id: str
    ) -> Template:
        """The step's form redrawn for the values entered so far (htmx, when the impact changes:
        the mode list follows the impact's path). Saves nothing."""
        numbered_step(definition, step_id)
        form = (await _forms(definition))[step_id]
        form.values = {**form.values, **dict(request.query_params)}
        form.values["version"] = str(form.settings.version)
        return Template("_step_config.html", context=_page(definition=definition, form=form))

    @post("/{step_id:str}/config", status_code=303, guards=[requires(Role.ADMIN, EDITING)])
    async def save(
        self,
        request: HTMXRequest,
        definition: NamedDependency[WorkflowDefinition],
        step_id: str,
        data: FormData,
        settings: NamedDependency[Settings],
    ) -> Redirect | Template:
        numbered_step(definition, step_id)
        status_code, errors, conflict = await _try_save(
            definition, step_id, data, request.user.name
        )
        if status_code == 200 and not request.htmx:
            target = f"{base_path(request, settings)}/workflows/{quote(definition.id)}/steps"
            return Redirect(f"{target}?saved={quote(step_id)}#step-{step_id}", status_code=303)
        forms = await _forms(definition)
        form = forms[step_id]
        if status_code == 200:
            form.saved = True
        else:
            # The admin's entries stay in the fields; after a conflict the form carries the
            # current version, so saving again applies them knowingly over what is there now.
            entered = {key: str(value) for key, value in data.items() if key != "_csrf_token"}
            form.values = {**entered, "version": str(form.settings.version)}
            form.errors, form.conflict = errors, conflict
        if request.htmx:
            context = _page(definition=definition, form=form)
            return Template("_step_config.html", context=context, status_code=status_code)
        context = _page(definition=definition, forms=forms.values())
        return Template("steps.html", context=context, status_code=status_code)

    @get("/{step_id:str}")
    async def step_analytics(
        self, definition: NamedDependency[WorkflowDefinition], step_id: str
    ) -> Template:
        number, step = numbered_step(definition, step_id)
        result = await analytics(definition, step_id)
        return Template("step.html", context=_analytics_context(definition, number, step, result))

    @post("/{step_id:str}/mode", status_code=303, guards=[requires(Role.ADMIN, CHANGING_MODE)])
    async def change_mode(
        self,
        request: HTMXRequest,
        definition: NamedDependency[WorkflowDefinition],
        step_id: str,
        data: FormData,
        settings: NamedDependency[Settings],
    ) -> Redirect | Template:
        """An admin's promotion or demotion by hand, with a reason, from the analytics page."""
        number, step = numbered_step(definition, step_id)
        to_mode, reason = data.get("to_mode", ""), data.get("reason", "").strip()
        errors: dict[str, str] = {}
        if not reason:
            errors["reason"] = "say why the mode changes"
        else:
            try:
                await manual.change_mode(
                    definition, step_id, request.user.name, to_mode=to_mode, reason=reason
                )
            except ModeChangeRefused as exc:
                errors["to_mode"] = str(exc)
        if not errors:
            target = f"{base_path(request, settings)}/workflows/{quote(definition.id)}/steps/{quote(step_id)}"
            return Redirect(f"{target}#mode-history", status_code=303)
        result = await analytics(definition, step_id)
        context = _analytics_context(definition, number, step, result)
        context.update(mode_errors=errors, mode_values={"to_mode": to_mode, "reason": reason})
        return Template("step.html", context=context, status_code=422)
