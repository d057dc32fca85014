"""The workflow and step a steps route names, for both controllers: 404 when either is unknown."""

from __future__ import annotations

from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException

from app.domain.definitions import StepDefinition, WorkflowDefinition
from app.steps.configuration import UnknownStep


def provide_definition(
    workflow_id: str, definitions: NamedDependency[dict[str, WorkflowDefinition]]
) -> WorkflowDefinition:
    """The `definition` dependency of the steps controllers (from the `workflow_id` path)."""
    try:
        return definitions[workflow_id]
    except KeyError:
        raise NotFoundException(f"no workflow definition named {workflow_id!r}") from None


def numbered_step(definition: WorkflowDefinition, step_id: str) -> tuple[int, StepDefinition]:
    """The step and its number in the definition (1 for the first)."""
    for number, step in enumerate(definition.steps, start=1):
        if step.id == step_id:
            return number, step
    raise NotFoundException(str(UnknownStep(definition.id, step_id)))
