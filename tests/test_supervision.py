"""Process supervision with real processes: `stepladder dev` stops every process it started on
SIGTERM, SIGHUP, and SIGINT even when started in the background (SIGINT ignored), so the next
start finds its ports free; a worker or web child killed with SIGKILL is restarted and a waiting
execution stays approvable; `stepladder web` and `stepladder worker` exit 0 on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from app.settings import REPO_ROOT, Settings
from app.supervisor import Supervisor
from app.web.identity import SESSION_COOKIE, SessionSigner
from bench.stack import web_process
from tests.dev_run import (
    APPROVER,
    CLEARED,
    USER,
    DevRun,
    RunSetup,
    leftover_pids,
    listening,
    poll_execution,
    run_setup,
)

__all__ = ["run_setup"]  # the fixture, used by name

STOP_WITHIN = 40  # seconds: the worker's grace, uvicorn's, Temporal's and PostgreSQL's stops


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _stack_pids(run: DevRun, setup: RunSetup) -> set[int]:
    """Every process of the stack: the children of `stepladder dev` (worker, web, Temporal) and
    those naming its DATA_DIR (PostgreSQL, daemonised by pg_ctl, is nobody's child)."""
    pids = set(run.children()) | set(leftover_pids(setup.data_dir.name))
    pids.discard(run.process.pid)
    return pids


def _signal_and_check_all_stopped(run: DevRun, setup: RunSetup, sig: signal.Signals) -> None:
    """`sig` to the `stepladder dev` process alone (as `docker stop` or `kill` sends it): it
    exits 0, and no process it started is alive, no port of the stack still listens."""
    pids = _stack_pids(run, setup)
    commands = " | ".join(run.children().values())
    assert len(pids) >= 4, f"expected worker, web, Temporal, PostgreSQL; found {pids}"
    assert "app.cli worker" in commands and "app.cli web" in commands, commands
    os.kill(run.process.pid, sig)
    try:
        code = run.process.wait(timeout=STOP_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"`stepladder dev` still running {STOP_WITHIN}s after {sig.name}:\n{run.output}"
        )
    run.reader.join(5)
    assert code == 0, f"`stepladder dev` exited with {code} after {sig.name}:\n{run.output}"
    # Its children are stopped and reaped before it exits; PostgreSQL's helpers follow their
    # postmaster within moments.
    deadline = time.monotonic() + 5
    while (alive := {p for p in pids if _alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"still running after {sig.name}: {alive}"
    assert not leftover_pids(setup.data_dir.name)
    still_open = {name: port for name, port in setup.ports().items() if listening(port)}
    assert not still_open, f"still listening after {sig.name}: {still_open}"


def _start_waiting_execution(http: httpx.Client) -> str:
    """An execution that stops at its first step waiting for approval."""
    started = http.post(
        "/api/workflows/executions/start",
        headers=USER,
        json={"workflow_id": "customer_onboarding",
              "workflow_data": {"name": "Sup Test", "email": "sup@example.com", "tier": "basic"}},
    )  # fmt: skip
    assert started.status_code == 201, started.text
    execution_id: str = started.json()["execution_id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = http.get(f"/api/workflows/executions/{execution_id}", headers=USER).json()
        if any(step["status"] == "waiting_approval" for step in body["steps"]):
            return execution_id
        time.sleep(0.2)
    pytest.fail(f"execution {execution_id} never waited for approval: {body}")


def _restarted(run: DevRun, command: str, old_pid: int, after: int) -> int:
    """Kill -9 `command`'s child was done; the log says it restarts, a new pid appears."""
    run.wait_for_output(f"{command} exited with -9; restarting in 1s", after=after)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(AssertionError):
            pid = run.child_pid(command)
            if pid != old_pid:
                return pid
        time.sleep(0.1)
    pytest.fail(f"no new {command} process after kill -9:\n{run.output}")


def test_sigterm_stops_every_process_and_the_next_start_works(run_setup: RunSetup) -> None:
    runs: list[DevRun] = []
    try:
        first = DevRun(run_setup.env)
        runs.append(first)
        first.wait_until_running()
        _signal_and_check_all_stopped(first, run_setup, signal.SIGTERM)

        # The same ports and DATA_DIR: nothing left behind holds them. A closing terminal
        # (SIGHUP) stops it the same way.
        second = DevRun(run_setup.env)
        runs.append(second)
        second.wait_until_running()
        assert httpx.get(f"{run_setup.base_url}/health", timeout=10).status_code == 200
        _signal_and_check_all_stopped(second, run_setup, signal.SIGHUP)
    finally:
        for run in runs:
            run.kill()


def test_sigint_stops_it_when_started_in_the_background(run_setup: RunSetup) -> None:
    run = DevRun(run_setup.env, ignore_sigint=True)  # as `stepladder dev &` from a script
    try:
        run.wait_until_running()
        _signal_and_check_all_stopped(run, run_setup, signal.SIGINT)
    finally:
        run.kill()


def test_a_killed_worker_or_web_is_restarted_and_approvals_still_apply(
    run_setup: RunSetup,
) -> None:
    run = DevRun(run_setup.env)
    try:
        run.wait_until_running()
        with httpx.Client(base_url=run_setup.base_url, timeout=30) as http:
            execution_id = _start_waiting_execution(http)

            worker = run.child_pid("worker")
            mark = len(run.lines)
            os.kill(worker, signal.SIGKILL)
            _restarted(run, "worker", worker, mark)
            run.wait_for_output("worker polling task queue", after=mark)
            # The new worker takes the waiting execution over: every approval applies.
            done = poll_execution(http, execution_id, timeout=90, approve=True)
            assert {step["status"] for step in done["steps"]} == {"completed"}

            web = run.child_pid("web")
            mark = len(run.lines)
            os.kill(web, signal.SIGKILL)
            _restarted(run, "web", web, mark)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if http.get("/health").status_code == 200:
                        break
                time.sleep(0.2)
            again = http.get(f"/api/workflows/executions/{execution_id}", headers=APPROVER)
            assert again.status_code == 200 and again.json()["status"] == "completed"
        _signal_and_check_all_stopped(run, run_setup, signal.SIGTERM)
    finally:
        run.kill()


def _service_env(settings: Settings) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.update(
        DATABASE_URL=settings.database_url,
        TEMPORAL_ADDRESS=settings.temporal_address,
        TEMPORAL_TASK_QUEUE=f"sup-{uuid.uuid4().hex[:8]}",
        PYTHONUNBUFFERED="1",
        # No SDK metrics endpoint: its default port may be a running `make run`'s worker's.
        WORKER_METRICS_PORT="0",
    )
    return env


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_worker_stops_cleanly_on_sigterm_and_sighup(
    settings: Settings, sig: signal.Signals
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"], env=_service_env(settings), cwd=REPO_ROOT,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    lines: list[str] = []
    try:
        for raw in process.stdout:  # until it polls (or exits, ending the output)
            lines.append(raw.decode(errors="replace").rstrip())
            if "worker polling task queue" in lines[-1]:
                break
        process.send_signal(sig)
        code = process.wait(timeout=settings.worker_shutdown_grace + 10)
        lines += process.stdout.read().decode(errors="replace").splitlines()
        output = "\n".join(lines)
        assert code == 0, f"worker exited with {code} after {sig.name}:\n{output}"
        assert "worker stopped" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_web_stops_cleanly_on_sigterm_with_a_live_stream_open(settings: Settings) -> None:
    with web_process(_service_env(settings), output=subprocess.DEVNULL) as web:
        stream_open = threading.Event()

        def watch_inbox() -> None:  # a browser with the approvals inbox open
            cookies = {SESSION_COOKIE: SessionSigner.from_settings(settings).sign("carol")}
            with (
                contextlib.suppress(httpx.HTTPError),
                httpx.stream(
                    "GET", f"{web.url}/approvals/events", cookies=cookies, timeout=30
                ) as response,
            ):
                assert response.status_code == 200
                stream_open.set()
                for _ in response.iter_bytes():
                    pass

        watcher = threading.Thread(target=watch_inbox, daemon=True)
        watcher.start()
        assert stream_open.wait(15), "the inbox stream did not open"
        web.process.send_signal(signal.SIGTERM)
        code = web.process.wait(timeout=15)  # uvicorn's graceful timeout is 5 s
        assert code == 0, f"stepladder web exited with {code} after SIGTERM"
        watcher.join(5)
        assert not listening(web.port)


def test_restart_delay_doubles_up_to_its_cap_and_resets_after_a_stable_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    supervisor = Supervisor(first_delay=1, max_delay=4, stable_after=30, clock=lambda: now[0])
    child = supervisor.start("worker", [sys.executable, "-c", "raise SystemExit(3)"], {})
    delays = []
    for _ in range(5):
        assert child.process is not None
        child.process.wait(timeout=30)
        if len(delays) == 4:
            now[0] += 30  # this run lasted long enough to count as stable
        supervisor.check()  # notices the exit
        assert child.restart_at is not None
        delays.append(child.restart_at - now[0])
        supervisor.check()
        assert child.restart_at is not None, "restarted before its delay"
        now[0] = child.restart_at
        supervisor.check()  # starts it again
        assert child.restart_at is None
    child.process.wait(timeout=30)
    assert delays == [1, 2, 4, 4, 1]
    assert "worker exited with 3; restarting in 1s" in caplog.text
    assert "worker exited with 3; restarting in 4s" in caplog.text
