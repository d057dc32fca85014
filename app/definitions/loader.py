"""Reading workflow definition files (YAML) from a folder; the format's rules live in the domain."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

import yaml

from app.domain.definitions import DefinitionError, WorkflowDefinition, parse_definition


def load_definitions(folder: Path, actions: Collection[str]) -> dict[str, WorkflowDefinition]:
    """Every *.yaml / *.yml file in `folder`, validated; any bad file stops the load."""
    found: dict[str, WorkflowDefinition] = {}
    files: Iterable[Path] = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise DefinitionError(f"{path.name}: not valid YAML ({exc})") from None
        definition = parse_definition(raw, path.name, actions)
        if definition.id in found:
            raise DefinitionError(f"{path.name}: workflow id {definition.id!r} is used twice")
        found[definition.id] = definition
    return found
