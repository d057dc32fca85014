"""Step params templated from the input and earlier results in a sandboxed Jinja environment."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, Template, Undefined, nodes
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# The sandbox refuses attribute tricks; StrictUndefined turns a typo into an error, not "".
_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)


class TemplateProblem(ValueError):
    """A param template that cannot be parsed or rendered."""


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render strings (recursively through lists and dicts); a lone `{{ x }}` keeps x's type."""
    if isinstance(value, str):
        try:
            whole = _WHOLE_EXPRESSION.match(value)
            if whole and "{{" not in whole.group("expr"):
                return _defined(_expression(whole.group("expr"))(**context))
            return _template(value).render(**context)
        except TemplateError as exc:
            raise TemplateProblem(f"{value!r}: {exc}") from exc
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render_value(item, context) for key, item in value.items()}
    return value


# Compiling is the slow part and the same few sources come back at every step of every
# execution: keep the compiled forms (pure functions of their source; the sandbox still applies).
@functools.lru_cache(maxsize=1024)
def _expression(source: str) -> Any:
    return _ENV.compile_expression(source, False)


@functools.lru_cache(maxsize=1024)
def _template(source: str) -> Template:
    return _ENV.from_string(source)


def _defined(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # raises UndefinedError naming the missing variable
    return value


def condition_expression(source: str) -> str:
    """A condition's expression: written bare (`input.tier == 'premium'`) or as one template
    expression (`{{ steps.book.status == 'failed' }}`), whose braces are dropped."""
    whole = _WHOLE_EXPRESSION.match(source)
    return whole.group("expr") if whole and "{{" not in whole.group("expr") else source


def evaluate_condition(expression: str, context: Mapping[str, Any]) -> bool:
    """Whether the condition holds in `context` (its value taken as a bool). Raises
    TemplateProblem naming the condition when it cannot be evaluated (a typo, a missing name)."""
    try:
        return bool(_defined(_expression(condition_expression(expression))(**context)))
    except TemplateError as exc:
        raise TemplateProblem(f"condition {expression!r}: {exc}") from exc


def referenced_paths(value: Any, *, is_expression: bool = False) -> Iterator[tuple[str, ...]]:
    """Every dotted name a template reads, e.g. ("input", "email") or ("steps", "x", "result")."""
    if isinstance(value, list):
        for item in value:
            yield from referenced_paths(item, is_expression=is_expression)
        return
    if isinstance(value, dict):
        for item in value.values():
            yield from referenced_paths(item, is_expression=is_expression)
        return
    if not isinstance(value, str):
        return
    source = "{{ " + condition_expression(value) + " }}" if is_expression else value
    try:
        tree = _ENV.parse(source)
    except TemplateError as exc:
        raise TemplateProblem(f"{value!r}: {exc}") from exc
    yield from _paths(tree)


def _paths(node: nodes.Node) -> Iterator[tuple[str, ...]]:
    if isinstance(node, nodes.Getattr | nodes.Getitem):
        chain: list[str] = []
        current: nodes.Node = node
        while isinstance(current, nodes.Getattr | nodes.Getitem):
            if isinstance(current, nodes.Getattr):
                chain.append(current.attr)
            elif isinstance(current.arg, nodes.Const):
                chain.append(str(current.arg.value))
            else:
                yield from _paths(current.arg)
                chain.clear()
            current = current.node
        if isinstance(current, nodes.Name):
            yield (current.name, *reversed(chain))
            return
        yield from _paths(current)
        return
    if isinstance(node, nodes.Name) and node.ctx == "load":
        yield (node.name,)
        return
    for child in node.iter_child_nodes():
        yield from _paths(child)
