"""The container setup (docker-compose.yml, .env.example, deploy/, Dockerfile): a valid compose file
for production (proxy sign-in by default, secrets from the env file, a healthcheck on every service,
web and worker scalable) running commands the CLI really has.

`docker compose config` is the authority on a compose file, but this machine's docker has no compose
plugin (and Debian 12 packages none): so the file is checked against the Compose Specification's own
JSON schema (tests/data/compose-spec.json, from compose-spec/compose-spec at commit
170098ba07d9f53c383a41bfd4c5166b0a4529a6, Apache-2.0) after interpolating ${...} the way compose
does, and the production rules are read from the parsed YAML. Where a compose CLI exists,
test_compose_file_is_valid also runs `docker compose config` on a copy of the stack.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"web": "web", "worker": "worker", "migrate": "migrate"}
"""Compose service -> the `stepladder` subcommand it must run."""
SCALED_SERVICES = ("web", "worker")
REQUIRED_SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD")
SECRET_NAME = re.compile(r"PASSWORD|PWD|SECRET|TOKEN|_KEY$")

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, ${VAR?message}
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?[^}]*\}")
# What compose substitutes: $$, ${VAR}, ${VAR<op>arg} with op one of :- - :? ? :+ +, and $VAR.
_COMPOSE_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)
_ENV_LINE = re.compile(r"^(?P<comment>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


class MissingVariable(Exception):
    """A ${VAR:?message} whose variable is unset: `docker compose` stops with the message."""


def _substitute(text: str, env: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"] or "", match["arg"] or ""
        is_set, value = name in env, env.get(name, "")
        if op in (":?", "?") and (not is_set or (op == ":?" and not value)):
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and (not is_set or (op == ":-" and not value)):
            return arg
        if op in (":+", "+"):
            return arg if is_set and (value or op == "+") else ""
        return value

    return _COMPOSE_VARIABLE.sub(one, text)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """The compose document as `docker compose` sees it with these variables set."""
    if isinstance(node, str):
        return _substitute(node, env)
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    return node


def _env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of an env file (quotes around a value removed, as compose does)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = _ENV_LINE.match(line.strip())
        if match and not match["comment"]:
            value = match["value"].strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            values[match["name"]] = value
    return values


def _env_example_names() -> list[str]:
    """Every variable .env.example lists, set or shown commented out."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    return [m["name"] for line in lines if (m := _ENV_LINE.match(line.strip()))]


def _production_env() -> dict[str, str]:
    """.env.example with its required secrets filled in, as an operator's .env would be."""
    env = _env_file(ROOT / ".env.example")
    env.update(SECRET_KEY="s" * 64, POSTGRES_PASSWORD="p0stgres")
    return env


def _compose_cli() -> list[str] | None:
    """`docker compose` (v2 plugin) or a v2 `docker-compose` binary, if this machine has one."""
    for command in (["docker", "compose"], ["docker-compose"]):
        if not shutil.which(command[0]):
            continue
        version = subprocess.run([*command, "version"], capture_output=True, text=True)
        if version.returncode == 0 and re.search(r"v?2\.\d+", version.stdout):
            return command
    return None


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
        env = interpolate(env, _production_env())
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
        env = interpolate(_environment(services[service]), _production_env())
        database = urlsplit(env["DATABASE_URL"]).path.lstrip("/")
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


# --- production rules ---------------------------------------------------------------------------


def test_compose_file_is_valid(tmp_path: Path) -> None:
    schema = json.loads((ROOT / "tests/data/compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(interpolate(_compose(), _production_env()))
    cli = _compose_cli()
    if cli is None:
        return  # no compose CLI here (see the module docstring): the schema above is the check
    stack = tmp_path / "stack"
    stack.mkdir()
    shutil.copy(ROOT / "docker-compose.yml", stack)
    shutil.copytree(ROOT / "deploy", stack / "deploy")
    shutil.copy(ROOT / "deploy/proxy-users.example.caddy", stack / "deploy/proxy-users.caddy")
    env_lines = [f"{name}={value}" for name, value in _production_env().items()]
    (stack / ".env").write_text("\n".join(env_lines) + "\n")
    config = subprocess.run([*cli, "config", "--quiet"], cwd=stack, capture_output=True, text=True)
    assert config.returncode == 0, config.stderr
    (stack / ".env").write_text("\n".join(e for e in env_lines if not e.startswith("SECRET_KEY")))
    refused = subprocess.run([*cli, "config", "--quiet"], cwd=stack, capture_output=True, text=True)
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr


def test_every_service_has_a_healthcheck_and_one_shot_jobs_are_awaited() -> None:
    services = _services()
    for name, service in services.items():
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"`{name}` has no healthcheck"
        if healthcheck.get("disable"):
            # A job that runs and exits: its exit code is its health, and others wait for it.
            assert service.get("restart") == "no", f"`{name}` disables its healthcheck"
            waiters = [
                other
                for other, spec in services.items()
                if isinstance(spec.get("depends_on"), dict)
                and spec["depends_on"].get(name, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert waiters, f"`{name}` disables its healthcheck but nothing waits for it"
            continue
        test = healthcheck.get("test")
        assert test and test not in (["NONE"], "NONE"), f"`{name}` healthcheck runs nothing"
    assert "/health" in " ".join(services["web"]["healthcheck"]["test"])
    assert "WORKER_METRICS_PORT" in " ".join(services["worker"]["healthcheck"]["test"])


def test_no_service_runs_in_dev_sign_in_mode_by_default() -> None:
    assert _env_file(ROOT / ".env.example")["AUTH_MODE"] == "proxy"
    without_auth_mode = {k: v for k, v in _production_env().items() if k != "AUTH_MODE"}
    for env in (_production_env(), without_auth_mode):
        services = interpolate(_compose(), env)["services"]
        for name, service in services.items():
            assert _environment(service).get("AUTH_MODE", "proxy") != "dev", name
        for name in APP_SERVICES:
            # The app's own default is dev: the compose file must always say which mode.
            assert _environment(services[name])["AUTH_MODE"] == "proxy", name


def test_web_and_worker_scale_without_name_or_host_port_clashes() -> None:
    services = _services()
    for name in SCALED_SERVICES:
        assert "container_name" not in services[name], f"`{name}` cannot scale with a fixed name"
        assert "ports" not in services[name], f"`{name}` publishes a host port: --scale would clash"
        assert services[name].get("expose"), f"`{name}` exposes no port to the network"
    published = [
        port
        for service in interpolate(_compose(), _production_env())["services"].values()
        for port in service.get("ports", [])
    ]
    host_ports = [str(port).rsplit(":", 2)[-2] for port in published]
    assert len(host_ports) == len(set(host_ports)), f"two services publish one port: {published}"


def test_secrets_come_from_the_env_file_never_from_the_compose_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in REQUIRED_SECRETS:
        uses = re.findall(r"\$\{" + secret + r"([^A-Za-z0-9_][^}]*)?\}", text)
        assert uses, f"docker-compose.yml never uses {secret}"
        assert all(use.startswith(":?") for use in uses), f"{secret} must be ${{{secret}:?...}}"
        env = {k: v for k, v in _production_env().items() if k != secret}
        with pytest.raises(MissingVariable, match=secret):
            interpolate(_compose(), env)
        assert _env_file(ROOT / ".env.example")[secret] == "", f".env.example sets {secret}"
    for name, service in _services().items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key):
                assert "${" in value, f"`{name}` {key} is written in the compose file"


def test_app_services_receive_every_setting_of_the_env_file() -> None:
    services = _services()
    for name in APP_SERVICES:
        env_file = services[name].get("env_file")
        files = env_file if isinstance(env_file, list) else [env_file]
        assert ".env" in files, f"`{name}` does not read .env"


def test_every_variable_of_env_example_is_documented() -> None:
    documented = (ROOT / "README.md").read_text() + (ROOT / "app/settings.py").read_text()
    names = _env_example_names()
    assert set(REQUIRED_SECRETS) <= set(names)
    for name in names:
        assert re.search(rf"\b{name}\b", documented), f"{name} is in neither README nor settings"


def test_proxy_drops_client_identity_headers_and_sets_them_from_its_sign_in() -> None:
    proxy = _services()["proxy"]
    mounts = " ".join(
        volume if isinstance(volume, str) else volume["source"] for volume in proxy["volumes"]
    )
    assert "./deploy/Caddyfile" in mounts and "./deploy/proxy-users.caddy" in mounts
    caddyfile = (ROOT / "deploy/Caddyfile").read_text()
    for header in ("AUTH_USER_HEADER:X-Forwarded-User", "AUTH_GROUPS_HEADER:X-Forwarded-Groups"):
        assert f"request_header -{{${header}}}" in caddyfile, f"client's {header} is kept"
    assert "header_up {$AUTH_USER_HEADER:X-Forwarded-User} {http.auth.user.id}" in caddyfile
    assert "header_up {$AUTH_GROUPS_HEADER:X-Forwarded-Groups} {stepladder_groups}" in caddyfile
    # Every web container, not the first one the name resolves to.
    assert caddyfile.count("dynamic a web 8000") == caddyfile.count("reverse_proxy")
    assert "REPLACE-WITH-A-HASH" in (ROOT / "deploy/proxy-users.example.caddy").read_text()


def test_dockerfile_installs_the_browser_assets_at_build_time() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stage = re.search(
        r"^FROM \S+ AS (\w+)\n(?:(?!^FROM ).*\n)*?RUN bash scripts/vendor_static\.sh",
        dockerfile,
        re.M,
    )
    assert stage, "no build stage runs scripts/vendor_static.sh"
    final = [args for keyword, args in _final_stage_instructions() if keyword == "COPY"]
    assert f"--from={stage[1]} /build/static/vendor/ static/vendor/" in final
