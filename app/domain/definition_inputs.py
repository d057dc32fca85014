"""Checking and normalising an execution's input against its definition's `inputs:`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.domain.definitions import WorkflowDefinition


def validate_input(definition: WorkflowDefinition, data: dict[str, Any]) -> dict[str, str]:
    """Field name → what is wrong with it; empty when the input can start an execution."""
    errors: dict[str, str] = {}
    for spec in definition.inputs:
        value = data.get(spec.name)
        if value in (None, "") and spec.default is not None:
            continue
        if value in (None, ""):
            if spec.required:
                errors[spec.name] = f"{spec.label} is required"
            continue
        if spec.type == "email" and not _looks_like_email(str(value)):
            errors[spec.name] = f"{spec.label} must be an email address like name@example.com"
        elif spec.type == "choice" and value not in spec.choices:
            errors[spec.name] = f"{spec.label} must be one of {', '.join(spec.choices)}"
        elif spec.type == "integer" and not _is_integer(value):
            errors[spec.name] = f"{spec.label} must be a whole number"
    unknown = set(data) - {spec.name for spec in definition.inputs}
    for name in sorted(unknown):
        errors[name] = f"{name!r} is not an input of {definition.id}"
    return errors


def normalise_input(definition: WorkflowDefinition, data: dict[str, Any]) -> dict[str, Any]:
    """Apply defaults and types to input that `validate_input` accepted."""
    result: dict[str, Any] = {}
    for spec in definition.inputs:
        value = data.get(spec.name)
        if value in (None, ""):
            value = spec.default
        elif spec.type == "integer":
            value = int(value)
        elif spec.type == "boolean" and isinstance(value, str):
            value = value.lower() in ("1", "true", "on", "yes")
        elif isinstance(value, str):
            value = value.strip()
        result[spec.name] = value
    return result


def _looks_like_email(value: str) -> bool:
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain and " " not in value and not domain.startswith(".")


def _is_integer(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True
