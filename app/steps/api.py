"""The steps JSON API (SPEC §5, tag `steps`): configurations and their version-checked edits,
analytics, promotion and demotion by hand, the mode-change audit trail, fault injection."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ClientException, PermissionDeniedException
from litestar.params import JSONBody, Parameter

from app.domain.definitions import WorkflowDefinition
from app.domain.identity import Role, User
from app.domain.promotion import ModeChangeRefused
from app.domain.step_config import StepConfigEdit, StepSettings
from app.settings import Settings
from app.steps import faults, manual
from app.steps.analytics import analytics, mode_history
from app.steps.configuration import EditConflict, InvalidStepConfig, load_settings, save_config
from app.steps.dependencies import numbered_step, provide_definition
from app.steps.schemas import (
    FaultInjectionRequest,
    FaultInjectionResponse,
    ModeChangeEntry,
    ModeChangeRequest,
    ModeChangeResponse,
    StepAnalyticsResponse,
    StepConfigResponse,
    StepConfigUpdate,
)
from app.web.errors import error_responses
from app.web.guards import requires

EDITING = "Editing step configuration"
CHANGING_MODE = "Changing a step's mode"
INJECTING = "Injecting faults"
FAULT_INJECTION_OFF = (
    "fault injection is off on this deployment: it is for development and test set-ups "
    "(FAULT_INJECTION=on; `make run` turns it on)"
)


def _unprocessable(exc: InvalidStepConfig | ModeChangeRefused) -> ClientException:
    errors = exc.errors if isinstance(exc, InvalidStepConfig) else {"to_mode": str(exc)}
    return ClientException(str(exc), status_code=422, extra={"errors": errors})


def _current_values(settings: StepSettings) -> dict[str, Any]:
    """A 409's `extra.current`: the saved configuration, as GET answers it without the name."""
    config = StepConfigResponse.of("", settings)
    return {key: value for key, value in asdict(config).items() if key != "step_name"}


def _edit(data: StepConfigUpdate, current: StepSettings) -> StepConfigEdit:
    """The PUT body over the saved values: an omitted field keeps its value."""
    return StepConfigEdit(
        version=data.version,
        impact=data.impact if data.impact is not None else current.impact.value,
        mode=data.mode if data.mode is not None else current.mode.value,
        auto_promote=current.auto_promote if data.auto_promote is None else data.auto_promote,
        criteria=current.overrides if data.criteria is None else data.criteria,
        reason=data.reason,
    )


class StepApi(Controller):
    path = "/api/workflows/{workflow_id:str}"
    tags = ["steps"]
    dependencies = {"definition": Provide(provide_definition, sync_to_thread=False)}

    @get("/steps", responses=error_responses(400, 401, 404))
    async def list_steps(
        self, definition: NamedDependency[WorkflowDefinition]
    ) -> list[StepConfigResponse]:
        """Every step's configuration, in definition order."""
        saved = await load_settings(definition)
        return [
            StepConfigResponse.of(step.name, saved[step.id])
            for step in definition.steps
            if step.id in saved
        ]

    @get("/steps/{step_id:str}", responses=error_responses(400, 401, 404))
    async def get_step(
        self, definition: NamedDependency[WorkflowDefinition], step_id: str
    ) -> StepConfigResponse:
        """One step's configuration; send its `version` back with a PUT."""
        _, step = numbered_step(definition, step_id)
        saved = (await load_settings(definition))[step_id]
        return StepConfigResponse.of(step.name, saved)

    @put(
        "/steps/{step_id:str}",
        guards=[requires(Role.ADMIN, EDITING)],
        responses=error_responses(400, 401, 403, 404, 409, 422),
    )
    async def put_step(
        self,
        request: Request[User, str, Any],
        definition: NamedDependency[WorkflowDefinition],
        step_id: str,
        data: JSONBody[StepConfigUpdate],
    ) -> StepConfigResponse:
        """Change a step's impact, mode, auto-promote or criteria (admin). 409 (with the current
        values in `extra.current`) when `version` is not the saved one; a new mode needs a
        `reason`; 422 with `extra.errors` per field for values that cannot be saved."""
        _, step = numbered_step(definition, step_id)
        current = (await load_settings(definition))[step_id]
        try:
            saved = await save_config(definition, step_id, _edit(data, current), request.user.name)
        except EditConflict as exc:
            raise ClientException(
                str(exc), status_code=409, extra={"current": _current_values(exc.current)}
            ) from None
        except (InvalidStepConfig, ModeChangeRefused) as exc:
            raise _unprocessable(exc) from None
        return StepConfigResponse.of(step.name, saved)

    @get("/steps/{step_id:str}/analytics", responses=error_responses(400, 401, 404))
    async def get_analytics(
        self, definition: NamedDependency[WorkflowDefinition], step_id: str
    ) -> StepAnalyticsResponse:
        """Metrics in the current mode, each criterion's progress, readiness, the estimate."""
        _, step = numbered_step(definition, step_id)
        return StepAnalyticsResponse.of(step, await analytics(definition, step_id))

    async def _change(
        self,
        user: User,
        definition: WorkflowDefinition,
        step_id: str,
        data: ModeChangeRequest | None,
        direction: str,
    ) -> ModeChangeResponse:
        _, step = numbered_step(definition, step_id)
        body = data or ModeChangeRequest()
        try:
            change, saved = await manual.change_mode(
                definition, step_id, user.name,
                to_mode=body.to_mode, reason=body.reason, direction=direction,
            )  # fmt: skip
        except ModeChangeRefused as exc:
            raise _unprocessable(exc) from None
        return ModeChangeResponse.of(step.id, change, user.name, saved)

    @post(
        "/steps/{step_id:str}/promote",
        status_code=200,
        guards=[requires(Role.ADMIN, CHANGING_MODE)],
        responses=error_responses(400, 401, 403, 404, 422),
    )
    async def promote(
        self,
        request: Request[User, str, Any],
        definition: NamedDependency[WorkflowDefinition],
        step_id: str,
        data: JSONBody[ModeChangeRequest | None] = None,
    ) -> ModeChangeResponse:
        """Promote by hand (admin): one hop up the impact's path, or to `to_mode` on it,
        whatever the criteria say. 422 at the ceiling or for a mode off the path."""
        return await self._change(request.user, definition, step_id, data, "promote")

    @post(
        "/steps/{step_id:str}/demote",
        status_code=200,
        guards=[requires(Role.ADMIN, CHANGING_MODE)],
        responses=error_responses(400, 401, 403, 404, 422),
    )
    async def demote(
        self,
        request: Request[User, str, Any],
        definition: NamedDependency[WorkflowDefinition],
        step_id: str,
        data: JSONBody[ModeChangeRequest | None] = None,
    ) -> ModeChangeResponse:
        """Demote by hand (admin): one hop down the path, or to `to_mode` on it."""
        return await self._change(request.user, definition, step_id, data, "demote")

    @get("/mode-changes", responses=error_responses(400, 401, 404))
    async def mode_changes(
        self,
        definition: NamedDependency[WorkflowDefinition],
        after_id: Annotated[
            int, Parameter(ge=0, description="Only changes newer than this id")
        ] = 0,
        before_id: Annotated[
            int, Parameter(ge=0, description="The next page: changes older than this id")
        ] = 0,
        limit: Annotated[int, Parameter(ge=1, le=500, description="At most this many")] = 100,
    ) -> list[ModeChangeEntry]:
        """The mode changes of the workflow's steps, newest first, a page at a time: `limit`
        (default 100, at most 500); the next page is `before_id=<the last id of this one>`;
        `after_id` asks only for changes newer than one already seen."""
        history = await mode_history(
            definition.id, after_id=after_id, before_id=before_id, limit=limit
        )
        return [ModeChangeEntry.of(entry) for entry in history]

    @put(
        "/steps/{step_id:str}/fault-injection",
        guards=[requires(Role.ADMIN, INJECTING)],
        responses=error_responses(400, 401, 403, 404, 422),
    )
    async def inject_faults(
        self,
        request: Request[User, str, Any],
        definition: NamedDependency[WorkflowDefinition],
        step_id: str,
        data: JSONBody[FaultInjectionRequest],
        settings: NamedDependency[Settings],
    ) -> FaultInjectionResponse:
        """Make the step's action fail on purpose at `failure_rate` (admin; for `simulate`).
        403 where the deployment has fault injection off."""
        numbered_step(definition, step_id)
        if not settings.fault_injection:
            raise PermissionDeniedException(FAULT_INJECTION_OFF)
        try:
            await faults.set_fault(definition, step_id, data.failure_rate, request.user.name)
        except InvalidStepConfig as exc:
            raise _unprocessable(exc) from None
        return FaultInjectionResponse(definition.id, step_id, data.failure_rate)

    @delete(
        "/steps/{step_id:str}/fault-injection",
        guards=[requires(Role.ADMIN, INJECTING)],
        responses=error_responses(400, 401, 403, 404),
    )
    async def clear_faults(
        self, definition: NamedDependency[WorkflowDefinition], step_id: str
    ) -> None:
        """Stop failing on purpose (admin; allowed even where fault injection is off)."""
        numbered_step(definition, step_id)
        await faults.clear_fault(definition, step_id)
