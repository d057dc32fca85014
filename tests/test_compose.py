"""The container setup (docker-compose.yml, Dockerfile) runs commands the CLI really has."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"web": "web", "worker": "worker", "migrate": "migrate"}
"""Compose service -> the `stepladder` subcommand it must run."""

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?[^}]*\}")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whether written as a mapping or as KEY=value items."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _commands() -> dict[str, Any]:
    cli = importlib.import_module("app.cli")
    commands = cli.COMMANDS
    assert isinstance(commands, dict)
    return commands


def test_compose_defines_database_temporal_ui_and_the_three_app_services() -> None:
    services = _services()
    for name in ("postgresql", "temporal", "temporal-ui", "web", "worker", "migrate"):
        assert name in services, f"docker-compose.yml has no `{name}` service"


def test_app_services_run_their_stepladder_subcommand_as_an_exec_list() -> None:
    services = _services()
    for service, subcommand in APP_SERVICES.items():
        assert services[service]["command"] == ["stepladder", subcommand]


def test_app_services_run_the_image_built_from_this_repo() -> None:
    services = _services()
    for service in APP_SERVICES:
        build = services[service].get("build")
        context = build.get("context") if isinstance(build, dict) else build
        assert context in (".", "./"), f"`{service}` does not build the repo's Dockerfile"


def test_compose_subcommands_exist_in_the_cli() -> None:
    commands = _commands()
    for subcommand in (*APP_SERVICES.values(), "dev"):
        assert subcommand in commands, f"`stepladder {subcommand}` is not in app.cli.COMMANDS"
        assert callable(commands[subcommand])


def test_pyproject_declares_the_stepladder_console_script() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["stepladder"] == "app.cli:main"


def test_temporal_persists_in_the_compose_postgresql_service() -> None:
    env = _environment(_services()["temporal"])
    assert env["DB"].startswith("postgres")
    assert env["POSTGRES_SEEDS"] == "postgresql"


def test_app_connects_to_compose_postgresql_and_temporal_with_no_unset_variables() -> None:
    services = _services()
    for service in APP_SERVICES:
        env = _environment(services[service])
        for name in ("DATABASE_URL", "TEMPORAL_ADDRESS"):
            value = env.get(name, "")
            assert value, f"`{service}` does not set {name}"
            unguarded = [m.group("name") for m in _INTERPOLATION.finditer(value) if not m["op"]]
            assert not unguarded, f"`{service}` {name} depends on unset variable(s) {unguarded}"
        database = urlsplit(env["DATABASE_URL"])
        assert database.scheme in ("postgres", "postgresql")
        assert database.hostname == "postgresql"
        assert env["TEMPORAL_ADDRESS"].split(":")[0] == "temporal"


def test_app_database_is_separate_from_temporals_databases() -> None:
    services = _services()
    temporal_env = _environment(services["temporal"])
    temporal_dbs = {
        temporal_env.get("DBNAME", "temporal"),
        temporal_env.get("VISIBILITY_DBNAME", "temporal_visibility"),
    }
    for service in APP_SERVICES:
        database = urlsplit(_environment(services[service])["DATABASE_URL"]).path.lstrip("/")
        assert database, f"`{service}` DATABASE_URL names no database"
        assert database not in temporal_dbs


def test_secret_key_must_be_supplied_and_is_not_baked_into_compose() -> None:
    services = _services()
    for service in APP_SERVICES:
        secret = _environment(services[service]).get("SECRET_KEY", "")
        match = _INTERPOLATION.fullmatch(secret)
        assert match and match["name"] == "SECRET_KEY" and match["op"] == ":?", (
            f"`{service}` SECRET_KEY must be ${{SECRET_KEY:?...}}, got {secret!r}"
        )


def _final_stage_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile's last stage, continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    instructions: list[tuple[str, str]] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            instructions = []
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def _exec_form(args: str) -> list[str]:
    parsed = json.loads(args) if args.startswith("[") else args.split()
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


def test_dockerfile_default_command_is_a_cli_subcommand() -> None:
    instructions = _final_stage_instructions()
    entrypoint = [_exec_form(a) for keyword, a in instructions if keyword == "ENTRYPOINT"]
    cmd = [_exec_form(a) for keyword, a in instructions if keyword == "CMD"]
    assert entrypoint or cmd, "the image has no CMD or ENTRYPOINT"
    argv = (entrypoint[-1] if entrypoint else []) + (cmd[-1] if cmd else [])
    assert argv[0] == "stepladder", f"the image does not start the stepladder CLI: {argv}"
    assert len(argv) > 1 and argv[1] in _commands(), f"unknown subcommand in {argv}"


def test_dockerfile_runs_the_app_as_a_non_root_user() -> None:
    users = [args for keyword, args in _final_stage_instructions() if keyword == "USER"]
    assert users, "the image never switches away from root"
    assert users[-1].split(":")[0] not in ("root", "0")
