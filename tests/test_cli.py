"""Bad configuration stops a `stepladder` command with one line on stderr, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from app.settings import REPO_ROOT

STEPLADDER = Path(sys.executable).parent / "stepladder"
UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:1/nothing"
UNREACHABLE_TEMPORAL = "127.0.0.1:1"
# Settings read from the environment: a developer's shell must not leak into these tests.
SETTING_VARIABLES = (
    "DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TASK_QUEUE", "HOST",
    "PORT", "PATH_PREFIX", "SECRET_KEY", "AUTH_MODE", "AUTH_USER_HEADER", "AUTH_GROUPS_HEADER",
    "AUTH_ADMIN_GROUP", "AUTH_APPROVER_GROUP", "FRAME_ANCESTORS", "DEFINITIONS_DIR", "DATA_DIR",
    "EMBEDDED_POSTGRES_PORT", "EMBEDDED_TEMPORAL_PORT", "LOG_LEVEL", "SECRET_KEY_PREVIOUS",
    "SESSION_MAX_AGE",
)  # fmt: skip


def run_cli(command: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in SETTING_VARIABLES}
    return subprocess.run(
        [str(STEPLADDER), command],
        env={**clean, **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


# A routine log record (the format of app.cli._configure_logging) below ERROR.


def error_line(result: subprocess.CompletedProcess[str], command: str) -> str:
    """The single stderr line of a command that failed the way it should."""
    shown = f"exit code {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 1, shown
    assert "Traceback" not in result.stderr + result.stdout, shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), shown
    assert lines[0].startswith(f"stepladder {command}: "), shown
    return lines[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_migrate_with_unreachable_database_names_postgresql_and_address() -> None:
    result = run_cli(
        "migrate", DATABASE_URL=UNREACHABLE_DATABASE, TEMPORAL_ADDRESS=UNREACHABLE_TEMPORAL
    )
    line = error_line(result, "migrate")
    assert "PostgreSQL" in line
    assert "127.0.0.1:1" in line
    assert "nobody@127.0.0.1:1/nothing" in line


def test_database_password_is_masked() -> None:
    password = "s3cret-Passw0rd"
    result = run_cli(
        "migrate",
        DATABASE_URL=f"postgresql://nobody:{password}@127.0.0.1:1/nothing",
        TEMPORAL_ADDRESS=UNREACHABLE_TEMPORAL,
    )
    line = error_line(result, "migrate")
    assert password not in result.stderr + result.stdout
    assert "PostgreSQL" in line
    assert "nobody:***@127.0.0.1:1/nothing" in line


def test_worker_with_unreachable_temporal_names_temporal_and_address(database_url: str) -> None:
    address = f"127.0.0.1:{free_port()}"
    result = run_cli(
        "worker", DATABASE_URL=database_url, TEMPORAL_ADDRESS=address, WORKER_METRICS_PORT="0"
    )
    line = error_line(result, "worker")
    assert "Temporal" in line
    assert address in line
    assert "PostgreSQL" not in line


def test_bad_auth_mode_names_the_variable() -> None:
    result = run_cli(
        "migrate",
        DATABASE_URL=UNREACHABLE_DATABASE,
        TEMPORAL_ADDRESS=UNREACHABLE_TEMPORAL,
        AUTH_MODE="bogus",
    )
    line = error_line(result, "migrate")
    assert "AUTH_MODE" in line
    assert "bogus" in line


def test_non_numeric_port_names_the_variable() -> None:
    result = run_cli(
        "web", DATABASE_URL=UNREACHABLE_DATABASE, TEMPORAL_ADDRESS=UNREACHABLE_TEMPORAL, PORT="abc"
    )
    line = error_line(result, "web")
    assert "PORT" in line
    assert "abc" in line


def test_web_with_a_definition_naming_an_unknown_action_names_file_step_and_action(
    tmp_path: Path,
) -> None:
    raw = yaml.safe_load((REPO_ROOT / "definitions" / "customer_onboarding.yaml").read_text())
    step = raw["steps"][2]
    step["action"] = "does_not_exist"
    (tmp_path / "broken_onboarding.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))

    result = run_cli(
        "web",
        DATABASE_URL=UNREACHABLE_DATABASE,
        TEMPORAL_ADDRESS=UNREACHABLE_TEMPORAL,
        DEFINITIONS_DIR=str(tmp_path),
    )
    line = error_line(result, "web")
    assert "broken_onboarding.yaml" in line
    assert step["id"] in line
    assert "does_not_exist" in line


def test_a_command_with_options_answers_its_own_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "token", "create", "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "usage: stepladder token create" in done.stdout and "--expires-days" in done.stdout
