"""The workflow's side of approver input (`approval_inputs:`, app/domain/approval_inputs.py).

Before a step's params render, `approval.<name>` holds the inputs' defaults (so an automatic
run, or the proposal the approver sees, uses them); once the step is approved, the params are
rendered again with what the approver entered and the preview shows the amended values.
Deterministic workflow code; versioned by APPROVAL_INPUTS, asked only for steps that declare
approval inputs, so other executions replay unchanged.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from app.domain.approval_inputs import check_inputs, defaults
    from app.domain.approvals import ApprovalRequest, DecisionAction
    from app.domain.definitions import StepDefinition
    from app.domain.templating import render_value
    from app.temporal.contracts import StepState

APPROVAL_INPUTS = "approval-inputs"


def with_input_defaults(step: StepDefinition, context: dict[str, Any]) -> None:
    """Put the step's approval-input defaults in `context["approval"]` (steps that declare
    approval inputs only). Raises TemplateProblem for a default that cannot be rendered."""
    if step.approval_inputs and workflow.patched(APPROVAL_INPUTS):
        context["approval"] = defaults(step.approval_inputs, context)


def amended_params(
    step: StepDefinition,
    state: StepState,
    request: ApprovalRequest,
    params: dict[str, Any],
    context: dict[str, Any],
) -> dict[str, Any]:
    """The params the approved action runs with: rendered again with the inputs of the
    approval that completed the step (the validator has checked them); preview fields whose
    value changed show the amended value, keeping what was proposed."""
    if not request.inputs:
        return params
    approvals = [d for d in state.decisions if d.action == DecisionAction.APPROVED]
    values, _ = check_inputs(request.inputs, approvals[-1].inputs if approvals else {})
    context["approval"] = values
    amended: dict[str, Any] = render_value(step.params, context)
    for change in state.preview.fields if state.preview else []:
        if change.name in amended and amended[change.name] != params.get(change.name):
            change.proposed, change.new = change.new, amended[change.name]
            _restate_warnings(state, change.proposed, change.new)
    return amended


def _restate_warnings(state: StepState, proposed: Any, amended: Any) -> None:
    """Impact warnings that quoted the proposed value ("Setting credit limit to $5,000") quote
    the amended one: the panel must not show an amount that will not be written."""
    if state.preview is None:
        return
    shown = [(f"${proposed:,}", f"${amended:,}")] if isinstance(proposed, int) else []
    shown.append((str(proposed), str(amended)))
    for warning in state.preview.impact:
        for old, new in shown:
            if old in warning.message:
                warning.message = warning.message.replace(old, new)
                break
