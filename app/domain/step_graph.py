"""The step graph of a definition: `depends_on` resolved, cycles found, levels and ready steps.

Pure functions over step ids. The rule for steps without `depends_on`: a step that declares
none depends on the step before it in the file (so a file without `depends_on` anywhere stays
strictly sequential, and adding it to one step changes nothing else); `depends_on: []` means
"at the start". The first step without `depends_on` starts at once.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

# step id → the ids it waits for (resolved: never None)
Graph = Mapping[str, tuple[str, ...]]


def resolve(
    order: Sequence[str], declared: Mapping[str, Sequence[str] | None]
) -> dict[str, tuple[str, ...]]:
    """Each step's dependencies, in file order: `declared[id]` when given (None or missing:
    the step before it, or none for the first step)."""
    graph: dict[str, tuple[str, ...]] = {}
    for index, step_id in enumerate(order):
        given = declared.get(step_id)
        if given is None:
            graph[step_id] = (order[index - 1],) if index else ()
        else:
            graph[step_id] = tuple(dict.fromkeys(given))  # duplicates dropped, order kept
    return graph


def parse_step_graph(
    items: Any, fail: Callable[[str, str], Exception]
) -> dict[str, tuple[str, ...]]:
    """The resolved graph of a definition's raw `steps:` list. Raises `fail(problem, step_id)`
    (step_id "" for the whole file) for a step without an id, a `depends_on` that is not a
    list of ids, an unknown id, and a cycle ("steps a → b → a form a cycle")."""
    if not isinstance(items, list):
        raise fail("steps must be a list", "")
    declared: dict[str, list[str] | None] = {}
    for item in items:
        if not isinstance(item, dict) or not item.get("id"):
            raise fail("every step needs an id", "")
        deps = item.get("depends_on")
        if deps is not None and (
            not isinstance(deps, list) or not all(isinstance(d, str) for d in deps)
        ):
            raise fail("depends_on must be a list of step ids", str(item["id"]))
        declared.setdefault(str(item["id"]), deps)
    graph = resolve(list(declared), declared)
    for step_id, unknown in unknown_dependencies(graph).items():
        raise fail(f"depends_on names unknown step(s) {', '.join(map(repr, unknown))}", step_id)
    cycle = find_cycle(graph)
    if cycle:
        raise fail(f"steps {' → '.join(cycle)} form a cycle", "")
    return graph


def unknown_dependencies(graph: Graph) -> dict[str, list[str]]:
    """Step id → the ids it depends on that are not steps (only steps with some)."""
    return {
        step_id: [d for d in deps if d not in graph]
        for step_id, deps in graph.items()
        if any(d not in graph for d in deps)
    }


def find_cycle(graph: Graph) -> list[str] | None:
    """A cycle as the path that closes it (["a", "b", "a"]; a self-dependency ["a", "a"]), or
    None. Steps are visited in the graph's order, so the cycle reported is always the same."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(step_id: str) -> list[str] | None:
        state[step_id] = 1
        path.append(step_id)
        for dep in graph.get(step_id, ()):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep in graph and dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[step_id] = 2
        return None

    for step_id in graph:
        if step_id not in state:
            cycle = visit(step_id)
            if cycle:
                # Read in the direction work flows: a → b means b depends on a.
                return list(reversed(cycle))
    return None


def topological_order(graph: Graph) -> list[str]:
    """Every step after the steps it depends on; ties keep the graph's (file) order. Raises
    ValueError on a cycle."""
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(graph):
        ready_now = [s for s in graph if s not in placed and set(graph[s]) <= placed]
        if not ready_now:
            raise ValueError(f"steps {' → '.join(find_cycle(graph) or [])} form a cycle")
        done.extend(ready_now)
        placed.update(ready_now)
    return done


def levels(graph: Graph) -> dict[str, int]:
    """Step id → its level: 0 for a step that depends on nothing, else one more than the
    deepest step it depends on. Steps of one level may run side by side."""
    level: dict[str, int] = {}
    for step_id in topological_order(graph):
        level[step_id] = 1 + max((level[d] for d in graph[step_id]), default=-1)
    return level


def groups(graph: Graph) -> list[list[str]]:
    """The steps level by level (each in file order): what the timeline shows side by side."""
    by_level: dict[int, list[str]] = {}
    level = levels(graph)
    for step_id in graph:
        by_level.setdefault(level[step_id], []).append(step_id)
    return [by_level[n] for n in sorted(by_level)]


def ancestors(graph: Graph, step_id: str) -> set[str]:
    """Every step `step_id` waits for, directly or through others."""
    seen: set[str] = set()
    todo = list(graph.get(step_id, ()))
    while todo:
        dep = todo.pop()
        if dep not in seen:
            seen.add(dep)
            todo.extend(graph.get(dep, ()))
    return seen


def ready(graph: Graph, finished: Collection[str], started: Collection[str]) -> list[str]:
    """Steps not yet started whose dependencies have all finished, in the graph's order."""
    return [
        step_id
        for step_id, deps in graph.items()
        if step_id not in started and all(d in finished for d in deps)
    ]
