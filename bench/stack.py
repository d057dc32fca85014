"""The stack every benchmark runs on, set up in one place: a scratch database on a PostgreSQL of
its own (or on DATABASE_URL's server), a Temporal dev server (or TEMPORAL_ADDRESS), the worker
in this process or as a child, and `stepladder web` processes — all on free ports."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, replace

import httpx
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from app.db.engine import migrate, tables_bound
from app.devstack import free_port, scratch_database, temporal_cli
from app.settings import REPO_ROOT, Settings
from app.steps.promotion import evaluate_after_outcome
from app.temporal.actions import ActionActivities
from app.temporal.client import connect
from app.temporal.worker import build_worker


@dataclass
class WebProcess:
    """A running `stepladder web`."""

    url: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid


@contextmanager
def web_process(
    env: Mapping[str, str], *, timeout: float = 60, output: int | None = None
) -> Iterator[WebProcess]:
    """`stepladder web` as its own process on a free port of 127.0.0.1, entered once its /health
    answers 200 (PostgreSQL and Temporal reached); stopped on exit."""
    port = free_port()
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "web"], env=env, cwd=REPO_ROOT,
        stdout=output, stderr=output,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(process, url, timeout)
        yield WebProcess(url, port, process)
    finally:
        _stop(process)


def _wait_for_health(process: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"stepladder web exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"stepladder web did not answer /health within {timeout:.0f}s")
        time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bench_worker(
    client: Client,
    task_queue: str,
    *,
    workflows: Sequence[type] = (),
    actions: type[ActionActivities] = ActionActivities,
) -> Worker:
    """The real worker — what `app.temporal.worker.build_worker` registers, with the steps'
    promotion hook and no fault injection, as `stepladder worker` runs — on `task_queue`, plus a
    benchmark's own workflows and actions (an ActionActivities subclass)."""
    # Only the template's configuration is used: it is built on a queue of its own, never run.
    template = build_worker(
        client,
        f"{task_queue}-template",
        on_outcome=evaluate_after_outcome,
        fault_injection=False,
        actions=actions,
    )
    config = template.config()
    config["task_queue"] = task_queue
    config["workflows"] = [*config.get("workflows", []), *workflows]
    return Worker(**config)


@dataclass
class Stack:
    """What a benchmark runs against; `settings` holds its database, Temporal and task queue."""

    settings: Settings
    client: Client

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a `stepladder` child process on this stack."""
        return {
            **os.environ,
            "DATABASE_URL": self.settings.database_url,
            "TEMPORAL_ADDRESS": self.settings.temporal_address,
            "TEMPORAL_NAMESPACE": self.settings.temporal_namespace,
            "TEMPORAL_TASK_QUEUE": self.settings.task_queue,
            "LOG_LEVEL": "WARNING",
            # Several benchmark workers may run at once: none serves SDK metrics on a fixed port.
            "WORKER_METRICS_PORT": "0",
            # The benchmarks start hundreds of executions a minute as one user on purpose.
            "STEPLADDER_START_RATE_LIMIT": "off",
            **overrides,
        }

    def worker(
        self,
        *,
        task_queue: str = "",
        workflows: Sequence[type] = (),
        actions: type[ActionActivities] = ActionActivities,
    ) -> Worker:
        """A worker in this process (use `async with`), on the stack's queue unless named."""
        queue = task_queue or self.task_queue
        return bench_worker(self.client, queue, workflows=workflows, actions=actions)

    def web(self, **overrides: str) -> AbstractContextManager[WebProcess]:
        """`stepladder web` on this stack, on a free port (use `with`)."""
        return web_process(self.env(**overrides), output=subprocess.DEVNULL)

    @contextmanager
    def child(self, *argv: str, **overrides: str) -> Iterator[subprocess.Popen[bytes]]:
        """`python ARGV...` on this stack (e.g. `-m app.cli worker`), stopped on exit."""
        env = self.env(**overrides)
        process = subprocess.Popen([sys.executable, *argv], env=env, cwd=REPO_ROOT)
        try:
            yield process
        finally:
            _stop(process)


@asynccontextmanager
async def temporal_server(settings: Settings) -> AsyncIterator[Client]:
    """TEMPORAL_ADDRESS's server when set, else a dev server of our own on a free port."""
    if settings.temporal_address:
        yield await connect(settings)
        return
    server = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_cli()), ui=False
    )
    try:
        yield server.client
    finally:
        await server.shutdown()


@asynccontextmanager
async def stack(purpose: str) -> AsyncIterator[Stack]:
    """The whole stack for one benchmark run; `purpose` (a word) names the scratch database and
    the task queue. Tables are bound in this process for the run; everything is removed after."""
    settings = Settings.from_env()
    async with scratch_database(settings.database_url, f"bench_{purpose}") as url:
        await migrate(url)
        async with tables_bound(url), temporal_server(settings) as client:
            yield Stack(
                replace(
                    settings,
                    database_url=url,
                    temporal_address=client.service_client.config.target_host,
                    task_queue=f"bench-{purpose}-{uuid.uuid4().hex[:6]}",
                ),
                client,
            )
