"""Finding a workflow definition for a request: the handlers' 404 when there is none."""

from __future__ import annotations

from collections.abc import Mapping

from litestar.exceptions import NotFoundException

from app.domain.definitions import WorkflowDefinition
from app.executions.service import UnknownWorkflow


def definition_or_404(
    definitions: Mapping[str, WorkflowDefinition], workflow_id: str
) -> WorkflowDefinition:
    """The definition named `workflow_id` (from the `definitions` dependency), or a 404."""
    definition = definitions.get(workflow_id)
    if definition is None:
        raise NotFoundException(str(UnknownWorkflow(workflow_id)))
    return definition
