"""depends_on in definitions: refused at load when it names an unknown step or forms a cycle
(naming the file and the steps), template references limited to the steps a step waits for,
`{{ }}` conditions, steps.<id>.status/error, and JSON definition files beside YAML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.definitions.loader import load_definitions
from app.domain.definitions import DefinitionError, parse_definition, version_hash
from app.domain.templating import evaluate_condition
from app.temporal.actions import ACTION_NAMES
from tests.helpers import DEFINITIONS


def step(step_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "name": step_id.title(), "action": "send_email",
            "impact": "accessory", "params": {"to": "a@b.co", "subject": "hi"}, **extra}  # fmt: skip


def definition(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"id": "orders", "name": "Orders", "inputs": [], "steps": list(steps)}


def test_a_cycle_is_refused_at_load_naming_the_file_and_the_steps() -> None:
    raw = definition(step("a", depends_on=["b"]), step("b", depends_on=["a"]))
    with pytest.raises(DefinitionError, match=r"^orders\.yaml: steps a → b → a form a cycle$"):
        parse_definition(raw, "orders.yaml", ACTION_NAMES)


def test_a_step_depending_on_itself_is_a_cycle() -> None:
    with pytest.raises(DefinitionError, match="steps a → a form a cycle"):
        parse_definition(definition(step("a", depends_on=["a"])), "o.yaml", ACTION_NAMES)


def test_an_unknown_depends_on_is_refused_naming_the_file_step_and_id() -> None:
    raw = definition(step("a"), step("b", depends_on=["a", "ghost"]))
    with pytest.raises(DefinitionError, match=r"orders\.yaml, step 'b': .*unknown step.*'ghost'"):
        parse_definition(raw, "orders.yaml", ACTION_NAMES)


def test_depends_on_must_be_a_list_of_ids() -> None:
    with pytest.raises(DefinitionError, match="step 'a': depends_on must be a list"):
        parse_definition(definition(step("a", depends_on="b")), "o.yaml", ACTION_NAMES)


def test_a_template_may_read_only_steps_it_waits_for() -> None:
    # b and c both start after a: c may not read b's result (they run side by side).
    raw = definition(
        step("a"),
        step("b", depends_on=["a"]),
        step("c", depends_on=["a"], condition="steps.b.status == 'completed'"),
    )
    with pytest.raises(DefinitionError, match="step 'c': template variable 'steps.b.status'"):
        parse_definition(raw, "o.yaml", ACTION_NAMES)
    # Through a dependency of a dependency it may.
    raw["steps"][2]["depends_on"] = ["b"]
    raw["steps"][2]["params"] = {"to": "{{ steps.a.result.to }}", "subject": "x"}
    parsed = parse_definition(raw, "o.yaml", ACTION_NAMES)
    assert parsed.parallel and parsed.step_graph() == {"a": (), "b": ("a",), "c": ("b",)}


def test_a_definition_without_depends_on_keeps_its_version_hash_and_stays_sequential() -> None:
    onboarding = DEFINITIONS["customer_onboarding"]
    assert not onboarding.parallel
    assert all(s.depends_on is None for s in onboarding.steps)
    assert onboarding.version_hash == version_hash(onboarding)
    ids = [s.id for s in onboarding.steps]
    assert onboarding.step_graph() == {i: ((ids[n - 1],) if n else ()) for n, i in enumerate(ids)}


def test_conditions_may_be_written_as_template_expressions() -> None:
    context = {"steps": {"book": {"status": "failed", "error": "no seats"}},
               "trigger": {"source": "crm"}, "input": {}}  # fmt: skip
    assert evaluate_condition("{{ steps.book.status == 'failed' }}", context)
    assert evaluate_condition("  {{ trigger.source == 'crm' }} ", context)
    assert evaluate_condition("steps.book.error == 'no seats'", context)
    assert not evaluate_condition("{{ trigger.source == 'web' }}", context)
    raw = definition(step("book"), step("alert", condition="{{ steps.book.status == 'failed' }}"))
    assert parse_definition(raw, "o.yaml", ACTION_NAMES).steps[1].condition


def test_json_definitions_load_beside_yaml(tmp_path: Path) -> None:
    raw = definition(step("a"), step("b", depends_on=[]), step("c", depends_on=["a", "b"]))
    (tmp_path / "orders.json").write_text(json.dumps(raw, indent=2))
    (tmp_path / "onboarding.yaml").write_text(
        (Path(__file__).parents[1] / "definitions" / "customer_onboarding.yaml").read_text()
    )
    loaded = load_definitions(tmp_path, ACTION_NAMES)
    assert sorted(loaded) == ["customer_onboarding", "orders"]
    assert loaded["orders"].step_graph() == {"a": (), "b": (), "c": ("a", "b")}


def test_a_bad_json_file_is_refused_naming_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{\n  "id": "x",\n  "name": "X"\n  "steps": []\n}\n')
    with pytest.raises(DefinitionError, match=r"^broken\.json: not valid JSON \(line 4, column 3"):
        load_definitions(tmp_path, ACTION_NAMES)


def test_a_json_definition_is_validated_like_yaml(tmp_path: Path) -> None:
    raw = definition(step("a", depends_on=["b"]), step("b", depends_on=["a"]))
    (tmp_path / "loop.json").write_text(json.dumps(raw))
    with pytest.raises(DefinitionError, match=r"^loop\.json: steps a → b → a form a cycle$"):
        load_definitions(tmp_path, ACTION_NAMES)
