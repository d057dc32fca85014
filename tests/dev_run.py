"""Driving `stepladder dev` as a real process: free ports, a DATA_DIR of its own, its output read
by a thread, its processes found through /proc (shared by test_run_command and
test_supervision)."""

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

from app.settings import REPO_ROOT

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


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(*, also_free_at: int = 0) -> int:
    """A port nobody listens on; with `also_free_at`, port + that offset is free too."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if not also_free_at or (port + also_free_at < 65536 and port_is_free(port + also_free_at)):
            return port
    raise AssertionError("no free port found")


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class DevRun:
    """One `stepladder dev` process; a thread drains its output so it never blocks on a pipe."""

    env: dict[str, str]
    ignore_sigint: bool = False
    """Start it as a shell starts `stepladder dev &`: with SIGINT ignored."""
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
            preexec_fn=_ignore_sigint if self.ignore_sigint else None,
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

    def wait_for_output(self, text: str, timeout: float = 60, *, after: int = 0) -> str:
        """The first output line from line number `after` on that holds `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if text in line:
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(
            f"no line with {text!r} from `stepladder dev` in {timeout:.0f}s:\n{self.output}"
        )

    def children(self) -> dict[int, str]:
        """The direct children of `stepladder dev`: pid → command line."""
        found = {}
        for listing in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                for pid in listing.read_text().split():
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    found[int(pid)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
        return found

    def child_pid(self, command: str) -> int:
        """The pid of its `stepladder <command>` child (worker, web)."""
        pids = [pid for pid, cmd in self.children().items() if f"app.cli {command}" in cmd]
        assert len(pids) == 1, f"{command} children: {pids} in {self.children()}"
        return pids[0]

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


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def leftover_pids(marker: str) -> list[int]:
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
    temporal_port = free_port(also_free_at=1000)
    postgres_port = free_port()
    web_port = free_port()
    # The worker's SDK metrics too: its default (9464) may be a running `make run`'s worker's.
    metrics_port = free_port()
    ports = {temporal_port, temporal_port + 1000, postgres_port, web_port, metrics_port}
    assert len(ports) == 5
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.update(
        DATA_DIR=str(data_dir),
        EMBEDDED_POSTGRES_PORT=str(postgres_port),
        EMBEDDED_TEMPORAL_PORT=str(temporal_port),
        PORT=str(web_port),
        WORKER_METRICS_PORT=str(metrics_port),
        PYTHONUNBUFFERED="1",
    )
    try:
        yield RunSetup(data_dir, web_port, postgres_port, temporal_port, env)
    finally:
        # Anything a failed run left behind (its children live in their own sessions).
        for pid in leftover_pids(data_dir.name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)


def poll_execution(
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


def stop_dev(run: DevRun, setup: RunSetup) -> None:
    code = run.interrupt()
    assert code == 0, f"`stepladder dev` exited with {code} after SIGINT:\n{run.output}"
    still_open = {name: port for name, port in setup.ports().items() if listening(port)}
    assert not still_open, f"still listening after `stepladder dev` stopped: {still_open}"
