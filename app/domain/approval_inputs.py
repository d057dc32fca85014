"""Approver input: typed fields a step asks its approver to fill when approving
(`approval_inputs:`), with bounds — e.g. a credit limit no higher than the one proposed, a note.

A definition declares ApprovalInputSpec entries; when the step starts waiting they are rendered
into ApprovalField values (defaults and bounds made concrete: a bound may read the step's
proposed `params`). The panel, the web layer and the workflow's validator all check a decision's
values with `check_inputs`; the accepted values are recorded with the decision and read by the
step's params as `{{ approval.<name> }}` (before a decision — and in automatic modes — the
defaults stand in).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.templating import TemplateProblem, render_value

INPUT_TYPES = ("integer", "number", "string", "boolean", "choice")
_NUMERIC = ("integer", "number")


@dataclass(frozen=True)
class ApprovalInputSpec:
    """One `approval_inputs:` entry as written: `default`, `min` and `max` may be templates
    (`default` reads input, steps, execution, trigger; the bounds also `params`, the step's
    proposed params)."""

    name: str
    type: str = "string"
    label: str = ""
    required: bool = True
    default: Any = None
    min: Any = None
    max: Any = None
    max_length: int = 0
    choices: list[str] = field(default_factory=list)
    help: str = ""


@dataclass(frozen=True)
class ApprovalField:
    """A field as the waiting step asks for it: default and bounds concrete."""

    name: str
    type: str
    label: str
    required: bool = True
    default: Any = None
    min: float | None = None
    max: float | None = None
    max_length: int = 0
    choices: list[str] = field(default_factory=list)
    help: str = ""


_SPEC_KEYS = set(ApprovalInputSpec.__dataclass_fields__)


def parse_approval_inputs(raw: Any, fail: Callable[[str], Exception]) -> list[ApprovalInputSpec]:
    """The `approval_inputs:` list → specs; raises `fail(problem)` naming the field."""
    if raw in (None, []):
        return []
    if not isinstance(raw, list):
        raise fail("approval_inputs must be a list of fields with a name and a type")
    specs: list[ApprovalInputSpec] = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("name"):
            raise fail("every approval input needs a name")
        name = str(item["name"])
        extra = set(item) - _SPEC_KEYS
        if extra:
            raise fail(f"approval input {name!r} has unknown key(s) {', '.join(sorted(extra))}")
        spec = ApprovalInputSpec(**{**item, "name": name, "label": item.get("label") or name})
        if spec.type not in INPUT_TYPES:
            raise fail(f"approval input {name!r} has unknown type {spec.type!r}")
        if spec.type == "choice" and not spec.choices:
            raise fail(f"approval input {name!r} is a choice without choices")
        if name in {s.name for s in specs}:
            raise fail(f"approval input {name!r} is declared twice")
        specs.append(spec)
    return specs


def defaults(specs: list[ApprovalInputSpec], context: Mapping[str, Any]) -> dict[str, Any]:
    """The `approval` values before anyone decided: each default rendered against `context`.
    Raises TemplateProblem."""
    return {spec.name: _typed(spec.type, render_value(spec.default, context)) for spec in specs}


def fields(
    specs: list[ApprovalInputSpec], context: Mapping[str, Any], params: Mapping[str, Any]
) -> list[ApprovalField]:
    """The fields as the waiting step asks for them, bounds rendered against `context` plus the
    proposed `params`. Raises TemplateProblem (also for a bound that is not a number)."""
    scope = {**context, "params": params}
    return [
        ApprovalField(
            name=spec.name,
            type=spec.type,
            label=spec.label,
            required=spec.required,
            default=_typed(spec.type, render_value(spec.default, scope)),
            min=_bound(spec, "min", scope),
            max=_bound(spec, "max", scope),
            max_length=spec.max_length,
            choices=list(spec.choices),
            help=spec.help,
        )  # fmt: skip
        for spec in specs
    ]


def _bound(spec: ApprovalInputSpec, key: str, scope: Mapping[str, Any]) -> float | None:
    raw = getattr(spec, key)
    if raw is None or spec.type not in _NUMERIC:
        return None
    value = render_value(raw, scope)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TemplateProblem(f"{spec.name}.{key} must be a number, got {value!r}") from None


def _typed(kind: str, value: Any) -> Any:
    """A default as its field's type (a template renders text); unconvertible stays as is."""
    if value is None or value == "":
        return None
    try:
        if kind == "integer":
            return int(float(value))
        if kind == "number":
            return float(value)
    except (TypeError, ValueError):
        return value
    if kind == "boolean" and isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return value


def check_inputs(
    asked: list[ApprovalField], given: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check an approval's values against the fields asked: (values, errors). `values` holds
    every field (an empty one takes its default), typed; `errors` maps a field to what is wrong
    with it ("Credit limit must be at most 5,000"), including names that are not fields."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in asked:
        raw = given.get(spec.name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if spec.default is None and spec.required and spec.type != "boolean":
                errors[spec.name] = f"{spec.label} is required"
            values[spec.name] = spec.default if spec.type != "boolean" else bool(spec.default)
            continue
        value, problem = _value(spec, raw)
        if problem:
            errors[spec.name] = f"{spec.label} {problem}"
        values[spec.name] = value
    for name in sorted(set(given) - {spec.name for spec in asked}):
        errors[name] = f"{name!r} is not an input of this step"
    return values, errors


def _value(spec: ApprovalField, raw: Any) -> tuple[Any, str]:
    """The value as its type, and what is wrong with it ("" when nothing)."""
    if spec.type in _NUMERIC:
        return _number(spec, raw)
    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw, ""
        return str(raw).strip().lower() in ("1", "true", "on", "yes"), ""
    text = str(raw).strip()
    if spec.type == "choice" and text not in spec.choices:
        return text, f"must be one of {', '.join(spec.choices)}"
    if spec.max_length and len(text) > spec.max_length:
        return text, f"must be at most {spec.max_length} characters (got {len(text)})"
    return text, ""


def _number(spec: ApprovalField, raw: Any) -> tuple[Any, str]:
    try:
        number = float(str(raw).replace(",", "").strip()) if not isinstance(raw, bool) else None
    except ValueError:
        number = None
    if number is None or not math.isfinite(number):
        return raw, "must be a number"
    if spec.type == "integer":
        if number != int(number):
            return raw, "must be a whole number"
        number = int(number)
    if spec.min is not None and number < spec.min:
        return number, f"must be at least {_shown(spec.min)}"
    if spec.max is not None and number > spec.max:
        return number, f"must be at most {_shown(spec.max)}"
    return number, ""


def _shown(bound: float) -> str:
    return f"{int(bound):,}" if bound == int(bound) else f"{bound:,}"
