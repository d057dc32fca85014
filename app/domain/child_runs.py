"""Child workflows across definition files: a step's `run: <workflow_id>` checked against the
loaded definitions (the id exists, its `input:` names the child's inputs, no cycle of `run:`),
and the children each definition needs embedded in it so they travel to the workflow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from app.domain.definitions import DefinitionError, WorkflowDefinition


def link_children(
    definitions: Mapping[str, WorkflowDefinition], sources: Mapping[str, str]
) -> dict[str, WorkflowDefinition]:
    """The definitions (workflow id → definition) with `children` filled: every definition a
    `run:` step starts, directly or through its own children. `sources` maps workflow id → file
    name for messages. Raises DefinitionError naming file and step for an unknown workflow id,
    an input field the child does not declare, a required child input left out, or a cycle."""
    for definition in definitions.values():
        for step in definition.steps:
            if step.run:
                _check_run(definitions, sources[definition.id], step.id, step.run, step.input)
    linked: dict[str, WorkflowDefinition] = {}
    for workflow_id in definitions:
        _link(workflow_id, definitions, sources, linked, [])
    return linked


def _check_run(
    definitions: Mapping[str, WorkflowDefinition],
    source: str,
    step_id: str,
    run: str,
    given: Mapping[str, object],
) -> None:
    place = f"{source}, step {step_id!r}"
    child = definitions.get(run)
    if child is None:
        known = ", ".join(sorted(definitions)) or "none"
        raise DefinitionError(f"{place}: run {run!r} is not a loaded workflow (known: {known})")
    declared = {field.name for field in child.inputs}
    unknown = sorted(set(given) - declared)
    if unknown:
        raise DefinitionError(
            f"{place}: input {', '.join(unknown)} not among {run}'s inputs "
            f"({', '.join(sorted(declared)) or 'none'})"
        )
    missing = [
        f.name for f in child.inputs if f.required and f.default is None and f.name not in given
    ]
    if missing:
        raise DefinitionError(f"{place}: input for {run} lacks required {', '.join(missing)}")


def _link(
    workflow_id: str,
    definitions: Mapping[str, WorkflowDefinition],
    sources: Mapping[str, str],
    linked: dict[str, WorkflowDefinition],
    path: list[tuple[str, str]],
) -> WorkflowDefinition:
    """`workflow_id`'s definition with its children embedded (memoised in `linked`); `path` is
    the chain of (workflow id, `run:` step id) that led here, so a cycle is named end to end."""
    if workflow_id in linked:
        return linked[workflow_id]
    seen = [w for w, _ in path]
    if workflow_id in seen:
        loop = path[seen.index(workflow_id) :]
        chain = " → ".join([*(f"{w} (step {s!r})" for w, s in loop), workflow_id])
        first, step_id = loop[0]
        raise DefinitionError(
            f"{sources[first]}, step {step_id!r}: run: steps form a cycle ({chain})"
        )
    definition = definitions[workflow_id]
    children: dict[str, WorkflowDefinition] = {}
    for step in definition.steps:
        if step.run and step.run not in children:
            further = [*path, (workflow_id, step.id)]
            children[step.run] = _link(step.run, definitions, sources, linked, further)
    linked[workflow_id] = replace(definition, children=children) if children else definition
    return linked[workflow_id]
