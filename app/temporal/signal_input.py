"""The `approve_step` signal's payload, read by hand.

The SDK would convert the payload into a Decision itself, and drop a signal it cannot convert
with one worker log line (while `temporal workflow signal` reports success) — or, worse, turn
`"confirmations": "abc"` into the list ["a", "b", "c"]. The handler takes the raw payload and
asks `read_signal`, which answers the Decision or, when the payload is not one, why not in
words a person sending it from a shell can act on. Pure and deterministic (workflow code).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue

from app.domain.approvals import Decision
from app.domain.statuses import StepStatus
from app.temporal.contracts import StepState, Timeline

# How a field's expected shape reads in a message, by field name, then by type.
_SHAPE_BY_FIELD = {
    "confirmations": "a list of labels",
    "roles": "a list of role names",
    "groups": "a list of group names",
}
# The widths of the `decisions` columns these fields are stored in (app/db/tables.py): a longer
# value would fail the insert, and the workflow would retry writing its record forever.
_MAX_LENGTH = {"step_id": 100, "user_id": 200, "action": 16, "source": 16}
_SHAPE_BY_TYPE = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}


@dataclass(frozen=True)
class BadSignal:
    """A payload that is not a decision: why, and what could be read of it (its step id, user
    id and action where they are text; empty otherwise) for the timeline and the record."""

    reason: str
    decision: Decision


def kind_of(value: object) -> str:
    """What a JSON value is, as a message names it: "null", "a string", "a list"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def decode_signal(raw: RawValue) -> Decision | BadSignal:
    """The signal's payload decoded by the workflow's payload converter, then `read_signal`."""
    try:
        value = workflow.payload_converter().from_payload(raw.payload)
    except Exception as exc:  # any payload the converter cannot decode is a bad signal
        return BadSignal(f"the payload could not be decoded: {exc}", Decision("", "", ""))
    return read_signal(value)


def read_signal(value: object) -> Decision | BadSignal:
    """The decision `value` (the decoded JSON payload) describes, or why it describes none:
    not an object, a required field missing, or a field of the wrong shape — first problem
    found, e.g. "confirmations must be a list of labels, got a string". Unknown keys are
    ignored, as the SDK ignores them, so a newer sender's extra fields do no harm."""
    if not isinstance(value, dict):
        *first, last = _required_fields()
        required = f"{', '.join(first)} and {last}"
        return _bad(f"the signal must be a JSON object with {required}, got {kind_of(value)}", {})
    hints = typing.get_type_hints(Decision)
    missing = [name for name in _required_fields() if name not in value]
    if missing:
        return _bad(f"missing {', '.join(missing)}", value)
    for field in dataclasses.fields(Decision):
        if field.name in value:
            problem = _shape_problem(field.name, hints[field.name], value[field.name])
            if problem:
                return _bad(problem, value)
    for name, limit in _MAX_LENGTH.items():
        if len(value.get(name) or "") > limit:
            return _bad(
                f"{name} is too long: {len(value[name])} characters, at most {limit}", value
            )
    known = {f.name: value[f.name] for f in dataclasses.fields(Decision) if f.name in value}
    return Decision(**known)


def _required_fields() -> list[str]:
    return [
        f.name
        for f in dataclasses.fields(Decision)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


def _shape_problem(name: str, hint: Any, value: object) -> str:
    """Why `value` cannot be field `name` of type `hint`, or "" when it can."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in options:
        return ""
    expected = next(o for o in options if o is not type(None))
    if _fits(expected, value):
        return ""
    shape = _SHAPE_BY_FIELD.get(name) or _SHAPE_BY_TYPE.get(expected) or _list_shape(expected)
    if type(None) in options:
        shape += " or null"
    return f"{name} must be {shape}, got {kind_of(value)}"


def _fits(expected: Any, value: object) -> bool:
    if typing.get_origin(expected) is list:
        (item,) = typing.get_args(expected) or (object,)
        return isinstance(value, list) and all(_fits(item, v) for v in value)
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(expected, type):
        return isinstance(value, expected)
    return True  # a shape this reader does not know: the Decision takes it as it comes


def _list_shape(expected: Any) -> str:
    if typing.get_origin(expected) is list:
        (item,) = typing.get_args(expected) or (object,)
        return f"a list of {_SHAPE_BY_TYPE.get(item, 'values')}"
    return getattr(expected, "__name__", str(expected))


def _bad(reason: str, value: dict[Any, Any]) -> BadSignal:
    def text(name: str) -> str:
        field = value.get(name, "")
        return field[: _MAX_LENGTH[name]] if isinstance(field, str) else ""

    return BadSignal(reason, Decision(text("step_id"), text("user_id"), text("action")))


def shown_under(
    state: StepState | None, waiting: StepState | None, timeline: Timeline | None
) -> StepState | None:
    """Where an ignored signal shows: under its step (`state`); without one (no step id, or an
    unknown one) under the `waiting` step, else the step the execution has reached — None only
    before the execution has started."""
    if state is not None or waiting is not None:
        return state or waiting
    steps = timeline.steps if timeline else []
    reached = [s for s in steps if s.status != StepStatus.PENDING]
    return reached[-1] if reached else next(iter(steps), None)
