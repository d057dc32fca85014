"""Param templating: sandboxed, strict, and a lone expression keeps its type."""

from __future__ import annotations

import pytest

from app.domain.templating import TemplateProblem, evaluate_condition, render_value

CONTEXT = {"input": {"tier": "premium", "name": "Jo"}, "steps": {"a": {"result": {"count": 2}}}}


def test_lone_expression_keeps_its_type_and_strings_render() -> None:
    params = {
        "limit": "{{ {'basic': 1000, 'premium': 5000}[input.tier] }}",
        "count": "{{ steps.a.result.count }}",
        "greeting": "Hi {{ input.name }}, you are {{ input.tier }}",
        "nested": ["{{ input.name }}", 3],
    }
    assert render_value(params, CONTEXT) == {
        "limit": 5000,
        "count": 2,
        "greeting": "Hi Jo, you are premium",
        "nested": ["Jo", 3],
    }


def test_missing_variable_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(TemplateProblem, match="email"):
        render_value("{{ input.email }}", CONTEXT)


def test_sandbox_refuses_reaching_python_internals() -> None:
    with pytest.raises(TemplateProblem):
        render_value("{{ input.__class__.__mro__ }}", CONTEXT)


def test_conditions_evaluate_against_the_input() -> None:
    assert evaluate_condition("input.tier != 'basic'", CONTEXT) is True
    assert evaluate_condition("steps.a.result.count == 0", CONTEXT) is False
