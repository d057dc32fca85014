"""Reading workflow definition files (YAML or JSON) from a folder; the format's rules live in
the domain."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from pathlib import Path

import yaml

from app.domain.child_runs import link_children
from app.domain.definitions import DefinitionError, WorkflowDefinition, parse_definition


def load_definitions(folder: Path, actions: Collection[str]) -> dict[str, WorkflowDefinition]:
    """Every *.yaml / *.yml / *.json file in `folder`, validated the same way; any bad file
    stops the load (DefinitionError naming the file, and the line for unreadable JSON)."""
    found: dict[str, WorkflowDefinition] = {}
    sources: dict[str, str] = {}
    patterns = ("*.yaml", "*.yml", "*.json")
    files: Iterable[Path] = sorted(path for pattern in patterns for path in folder.glob(pattern))
    for path in files:
        raw = read_definition_file(path)
        definition = parse_definition(raw, path.name, actions)
        if definition.id in found:
            raise DefinitionError(f"{path.name}: workflow id {definition.id!r} is used twice")
        found[definition.id] = definition
        sources[definition.id] = path.name
    return link_children(found, sources)


def read_definition_file(path: Path) -> object:
    """The parsed content of one definition file (JSON for *.json, else YAML). Raises
    DefinitionError naming the file (and, for JSON, the line and column) when unreadable."""
    text = path.read_text()
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise DefinitionError(f"{path.name}: not valid JSON ({where}: {exc.msg})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path.name}: not valid YAML ({exc})") from None
