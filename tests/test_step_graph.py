"""The step graph (app/domain/step_graph.py): depends_on resolved by the implicit rule, cycles
and unknown ids found, levels, groups, ancestors and the ready set."""

from __future__ import annotations

import pytest

from app.domain.step_graph import (
    ancestors,
    find_cycle,
    groups,
    levels,
    ready,
    resolve,
    topological_order,
    unknown_dependencies,
)


def test_without_depends_on_each_step_waits_for_the_one_before() -> None:
    assert resolve(["a", "b", "c"], {}) == {"a": (), "b": ("a",), "c": ("b",)}


def test_an_empty_depends_on_starts_at_once_and_others_keep_the_implicit_rule() -> None:
    graph = resolve(["a", "b", "c", "d"], {"b": [], "d": ["a", "c", "a"]})
    assert graph == {"a": (), "b": (), "c": ("b",), "d": ("a", "c")}


def test_levels_and_groups_put_independent_steps_side_by_side() -> None:
    graph = resolve(
        ["validate", "reserve", "charge", "fraud", "ship"],
        {"reserve": ["validate"], "charge": ["validate"], "fraud": ["validate"],
         "ship": ["reserve", "charge", "fraud"]},
    )  # fmt: skip
    assert levels(graph) == {"validate": 0, "reserve": 1, "charge": 1, "fraud": 1, "ship": 2}
    assert groups(graph) == [["validate"], ["reserve", "charge", "fraud"], ["ship"]]
    assert topological_order(graph) == ["validate", "reserve", "charge", "fraud", "ship"]


def test_a_cycle_is_reported_as_the_path_that_closes_it() -> None:
    assert find_cycle({"a": ("b",), "b": ("a",)}) == ["a", "b", "a"]
    assert find_cycle({"x": (), "a": ("c",), "b": ("a",), "c": ("b",)}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ("a",)}) == ["a", "a"]
    assert find_cycle({"a": (), "b": ("a",)}) is None
    with pytest.raises(ValueError, match="form a cycle"):
        topological_order({"a": ("b",), "b": ("a",)})


def test_unknown_dependencies_are_named_per_step() -> None:
    assert unknown_dependencies({"a": (), "b": ("a", "nope")}) == {"b": ["nope"]}


def test_ancestors_are_transitive() -> None:
    graph = {"a": (), "b": ("a",), "c": (), "d": ("b", "c")}
    assert ancestors(graph, "d") == {"a", "b", "c"}
    assert ancestors(graph, "a") == set()


def test_ready_steps_are_those_whose_dependencies_all_finished() -> None:
    graph = {"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")}
    assert ready(graph, finished=set(), started=set()) == ["a"]
    assert ready(graph, finished={"a"}, started={"a"}) == ["b", "c"]
    assert ready(graph, finished={"a", "b"}, started={"a", "b", "c"}) == []
    assert ready(graph, finished={"a", "b", "c"}, started={"a", "b", "c"}) == ["d"]
