"""`stepladder dev` (what `make run` calls) end to end: embedded PostgreSQL and Temporal, the
worker and the web server start, an execution completes, Ctrl-C stops everything, and a second
start on the same DATA_DIR still has the execution."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from app.settings import REPO_ROOT, Settings

STEPLADDER = Path(sys.executable).parent / "stepladder"
READY_MARK = "Stepladder is running at http://"
USER = {"X-Stepladder-User": "bob"}
APPROVER = {"X-Stepladder-User": "carol"}  # not the starter: critical steps need four eyes
# The developer's own configuration must not reach the run under test.
CLEARED = (
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "HOST",
    "PATH_PREFIX",
    "DEFINITIONS_DIR",
    "AUTH_MODE",
)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(*, also_free_at: int = 0) -> int:
    """A port nobody listens on; with `also_free_at`, port + that offset is free too."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if not also_free_at or (port + also_free_at < 65536 and _port_is_free(port + also_free_at)):
            return port
    raise AssertionError("no free port found")


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class DevRun:
    """One `stepladder dev` process; a thread drains its output so it never blocks on a pipe."""

    env: dict[str, str]
    process: subprocess.Popen[bytes] = field(init=False)
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread = field(init=False)

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(
            [str(STEPLADDER), "dev"],
            env=self.env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self.reader = threading.Thread(target=self._drain, args=(self.process.stdout,), daemon=True)
        self.reader.start()

    def _drain(self, stream: IO[bytes]) -> None:
        for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if READY_MARK in line:
                self.ready.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_until_running(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.2):
            code = self.process.poll()
            if code is not None:
                self.reader.join(5)
                pytest.fail(f"`stepladder dev` exited with code {code}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"`stepladder dev` not running after {timeout:.0f}s:\n{self.output}")

    def interrupt(self, timeout: float = 30) -> int:
        """Ctrl-C, as a terminal sends it to the foreground process group; the exit code."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"`stepladder dev` still running {timeout:.0f}s after SIGINT:\n{self.output}"
            )
        self.reader.join(5)
        return code

    def kill(self) -> None:
        """Last-resort clean-up: a graceful stop first (it stops its children), then SIGKILL."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _leftover_pids(marker: str) -> list[int]:
    """Processes whose command line or environment holds `marker` (this test's DATA_DIR)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in blob:
            found.append(int(entry.name))
    return found


@dataclass
class RunSetup:
    data_dir: Path
    web_port: int
    postgres_port: int
    temporal_port: int
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def ports(self) -> dict[str, int]:
        return {
            "web": self.web_port,
            "embedded PostgreSQL": self.postgres_port,
            "embedded Temporal": self.temporal_port,
            "Temporal UI": self.temporal_port + 1000,
        }


@pytest.fixture
def run_setup() -> Iterator[RunSetup]:
    data_dir = REPO_ROOT / ".data" / f"test-run-{uuid.uuid4().hex[:12]}"
    temporal_port = _free_port(also_free_at=1000)
    postgres_port = _free_port()
    web_port = _free_port()
    assert len({temporal_port, temporal_port + 1000, postgres_port, web_port}) == 4
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.update(
        DATA_DIR=str(data_dir),
        EMBEDDED_POSTGRES_PORT=str(postgres_port),
        EMBEDDED_TEMPORAL_PORT=str(temporal_port),
        PORT=str(web_port),
        PYTHONUNBUFFERED="1",
    )
    try:
        yield RunSetup(data_dir, web_port, postgres_port, temporal_port, env)
    finally:
        # Anything a failed run left behind (its children live in their own sessions).
        for pid in _leftover_pids(str(data_dir)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)


def _poll_execution(
    http: httpx.Client, execution_id: str, timeout: float = 30, *, approve: bool = False
) -> dict[str, Any]:
    """The execution once it has completed (with `approve`, carol approves every step that waits,
    as an approver would in the browser); fails with its last state after `timeout`."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        response = http.get(f"/api/workflows/executions/{execution_id}", headers=USER)
        last = f"{response.status_code} {response.text}"
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            if body["status"] == "completed":
                return body
            assert body["status"] == "running", body
            waiting = [s for s in body["steps"] if s["status"] == "waiting_approval"]
            if approve and waiting:
                step, ask = waiting[0], waiting[0]["approval"]
                decided = http.post(
                    f"/api/workflows/executions/{execution_id}/steps/{step['id']}/approve",
                    headers=APPROVER,
                    json={"confirmations": ask["confirmations"],
                          "typed_confirmation": ask["typed_phrase"]},
                )  # fmt: skip
                assert decided.status_code == 200, decided.text
                continue
        time.sleep(0.2)
    pytest.fail(f"execution {execution_id} did not complete within {timeout:.0f}s: {last}")


def _stop(run: DevRun, setup: RunSetup) -> None:
    code = run.interrupt()
    assert code == 0, f"`stepladder dev` exited with {code} after SIGINT:\n{run.output}"
    still_open = {name: port for name, port in setup.ports().items() if _listening(port)}
    assert not still_open, f"still listening after `stepladder dev` stopped: {still_open}"


def test_dev_runs_an_execution_stops_on_ctrl_c_and_keeps_its_data(run_setup: RunSetup) -> None:
    runs: list[DevRun] = []
    try:
        # First start: initdb, a fresh Temporal SQLite file, migrations, worker and web.
        first = DevRun(run_setup.env)
        runs.append(first)
        first.wait_until_running()
        assert f"{READY_MARK}127.0.0.1:{run_setup.web_port}/" in first.output

        with httpx.Client(base_url=run_setup.base_url, timeout=10) as http:
            health = http.get("/health")
            assert health.status_code == 200, health.text
            checks = health.json()["checks"]
            assert set(checks) == {"postgresql", "temporal"}
            assert all(check["ok"] for check in checks.values()), checks

            started = http.post(
                "/api/workflows/executions/start",
                headers=USER,
                json={
                    "workflow_id": "customer_onboarding",
                    "workflow_data": {
                        "name": "Run Test",
                        "email": "run-test@example.com",
                        "tier": "basic",
                    },
                },
            )
            assert started.status_code == 201, started.text
            execution_id = started.json()["execution_id"]
            timeline = _poll_execution(http, execution_id, approve=True)
            assert [step["status"] for step in timeline["steps"]] == ["completed"] * len(
                timeline["steps"]
            )

        _stop(first, run_setup)

        # Second start on the same DATA_DIR: the cluster and the Temporal history are reused.
        second = DevRun(run_setup.env)
        runs.append(second)
        second.wait_until_running()
        with httpx.Client(base_url=run_setup.base_url, timeout=10) as http:
            again = _poll_execution(http, execution_id)
            assert again["execution_id"] == execution_id
            assert again["workflow_id"] == "customer_onboarding"
            assert again["started_by"] == "bob"
        _stop(second, run_setup)
    finally:
        for run in runs:
            run.kill()


def test_dev_with_configured_services_starts_nothing_embedded(
    run_setup: RunSetup, settings: Settings
) -> None:
    env = {
        **run_setup.env,
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": f"dev-external-{uuid.uuid4().hex[:6]}",
    }
    run = DevRun(env)
    try:
        run.wait_until_running()
        with httpx.Client(base_url=run_setup.base_url, timeout=10) as http:
            assert http.get("/health").status_code == 200
        assert "embedded" not in run.output
        assert not _listening(run_setup.postgres_port)
        assert not _listening(run_setup.temporal_port)
        assert not (run_setup.data_dir / "postgres").exists()
        assert not (run_setup.data_dir / "temporal.sqlite").exists()
        _stop(run, run_setup)
    finally:
        run.kill()
