"""The `stepladder` console script: dev (everything embedded), web, worker, migrate, simulate,
token and schedules."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from app.definitions.schedules_cli import cmd_schedules, syncing_schedules
from app.devstack import (
    DevStackError,
    EmbeddedPostgres,
    EmbeddedTemporal,
    free_port,
    port_is_open,
)
from app.settings import Settings, SettingsError
from app.supervisor import STOP_SIGNALS, StopRequested, Supervisor, install_stop_handlers, stopping

log = logging.getLogger("stepladder")


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL did not accept a connection at the configured URL."""


def _mask(url: str) -> str:
    return re.sub(r"(//[^:/@]+):[^@]*@", r"\1:***@", url)


async def check_database(url: str) -> None:
    import asyncpg

    try:
        connection = await asyncpg.connect(dsn=url, timeout=5)
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {_mask(url)}: {reason}"
        ) from None
    await connection.close()


def _configure_logging(settings: Settings) -> None:
    """One shape for every line on stderr: JSON, or readable text on a terminal (LOG_FORMAT)."""
    from app.observability.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format)


def cmd_migrate(settings: Settings) -> None:
    """Apply the migrations, then seed step configurations for the loaded definitions."""
    from app.db.demo import DemoSystems
    from app.db.engine import migrate, tables_bound
    from app.definitions.loader import load_definitions
    from app.steps.seeding import seed_step_configs
    from app.temporal.actions import ACTION_NAMES

    settings.require_services()
    definitions = load_definitions(settings.definitions_dir, ACTION_NAMES)

    async def run() -> None:
        await check_database(settings.database_url)
        await migrate(settings.database_url)
        async with tables_bound(settings.database_url):
            added = await seed_step_configs(definitions.values())
            stocked = await DemoSystems().seed_inventory()  # the order demo's SKUs
        log.info("database is up to date; %d new step configuration(s), %d demo SKU(s) stocked",
                 added, stocked)  # fmt: skip

    asyncio.run(run())


def cmd_worker(settings: Settings) -> None:
    settings.require_services()
    asyncio.run(_run_worker(settings))
    # Stopped cleanly (worker shut down, pool closed, spans flushed): leave without the
    # interpreter's clean-up, where the Temporal core's native threads can abort it
    # (PyGILState_Release, seen once in CI after SIGHUP) and turn exit 0 into -6.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


async def _run_worker(settings: Settings) -> None:
    from app.db.engine import tables_bound
    from app.observability.tracing import Tracing
    from app.steps.service import evaluate_after_outcome
    from app.temporal.client import connect
    from app.temporal.notifying import NotificationActivities
    from app.temporal.worker import build_worker, metrics_runtime

    # SIGINT, SIGTERM (docker stop, systemd) and SIGHUP stop the worker gracefully; handled
    # explicitly, so a worker started in the background (SIGINT ignored) stops on Ctrl-C too.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    await check_database(settings.database_url)
    tracing = Tracing.from_exporters(settings.traces_exporter, "stepladder-worker")
    try:
        runtime = metrics_runtime(settings.host, settings.worker_metrics_port)
    except ValueError as exc:  # the port is taken, most likely
        raise SettingsError(f"WORKER_METRICS_PORT={settings.worker_metrics_port}: {exc}") from None
    # The worker takes the client's tracing interceptor (workflow and activity spans) and serves
    # the SDK's metrics from the client's runtime.
    client = await connect(settings, interceptors=tracing.temporal_interceptors(), runtime=runtime)
    if runtime is not None:
        log.info(
            "worker metrics at http://%s:%d/metrics", settings.host, settings.worker_metrics_port
        )
    # The engine's promotion hook is the steps' rules; fault injections only where switched on.
    worker = build_worker(
        client,
        settings.task_queue,
        on_outcome=evaluate_after_outcome,
        fault_injection=settings.fault_injection,
        shutdown_grace=settings.worker_shutdown_grace,
        notifier=NotificationActivities.from_settings(settings),
        policy_time_zone=settings.policy_time_zone,
    )
    log.info("worker polling task queue %r on %s", settings.task_queue, settings.temporal_address)
    async with tables_bound(settings.database_url), worker, syncing_schedules(settings, client):
        await stop.wait()
        # Leaving `worker` stops polling, lets running activities finish for the grace period,
        # then cancels them (Temporal retries them on another worker) and returns.
        log.info(
            "worker stopping (running activities get %gs to finish)",
            settings.worker_shutdown_grace,
        )
    log.info("worker stopped")
    tracing.shutdown()


def cmd_web(settings: Settings) -> None:
    import uvicorn

    from app.definitions.loader import load_definitions
    from app.temporal.actions import ACTION_NAMES
    from app.temporal.client import connect

    settings.require_services()
    load_definitions(settings.definitions_dir, ACTION_NAMES)  # a bad file stops here, in one line
    asyncio.run(check_database(settings.database_url))
    asyncio.run(connect(settings))
    _hand_stop_signals_to_uvicorn()
    uvicorn.run(
        "app.web.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through our handler (_configure_logging)
        proxy_headers=True,
        timeout_graceful_shutdown=5,
    )


def _hand_stop_signals_to_uvicorn() -> None:
    """uvicorn shuts down gracefully on SIGINT and SIGTERM, then raises the signal again under
    the handler it found: with the default one, SIGTERM would kill the process (exit -15) after
    a clean stop. Found handlers that do nothing make it exit 0; SIGHUP (a closing terminal),
    which uvicorn ignores, is passed on as SIGTERM."""

    def done(_signum: int, _frame: object) -> None:
        """The server has stopped already (or is stopping): nothing left to do."""

    signal.signal(signal.SIGINT, done)
    signal.signal(signal.SIGTERM, done)
    signal.signal(signal.SIGHUP, lambda _s, _f: signal.raise_signal(signal.SIGTERM))


def cmd_dev(settings: Settings) -> None:
    """Start what is not configured (PostgreSQL, Temporal), migrate, then run worker and web,
    restarting either when it dies. SIGINT, SIGTERM and SIGHUP stop everything it started."""
    install_stop_handlers()  # first: a signal during the start-up stops what is up so far
    services: list[EmbeddedPostgres | EmbeddedTemporal] = []
    supervisor = Supervisor()
    try:
        settings = _start_services(settings, services)
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "TEMPORAL_ADDRESS": settings.temporal_address,
            # The development stack: `simulate --failure-rate` may inject faults.
            "FAULT_INJECTION": os.environ.get("FAULT_INJECTION", "on"),
            "WORKER_METRICS_PORT": str(_dev_worker_metrics_port(settings)),
        }
        for command in ("worker", "web"):
            supervisor.start(command, [sys.executable, "-m", "app.cli", command], env)
        _wait_for_web(supervisor, settings)
        print(f"\n  Stepladder is running at http://{settings.host}:{settings.port}/", flush=True)
        for service in services:
            if isinstance(service, EmbeddedTemporal):
                print(f"  Temporal UI at http://127.0.0.1:{service.ui_port}/", flush=True)
        print("  Press Ctrl-C to stop.\n", flush=True)
        supervisor.run_forever()
    except StopRequested as stop:
        log.info("%s received: stopping", stop)
    finally:
        with stopping():
            _stop_everything(settings, supervisor, services)


def _dev_worker_metrics_port(settings: Settings) -> int:
    """The configured worker metrics port, or a free one when the default is taken (another
    checkout's `make run`): development never fails over a metrics port."""
    if "WORKER_METRICS_PORT" in os.environ or not settings.worker_metrics_port:
        return settings.worker_metrics_port
    with socket.socket() as probe:
        try:
            probe.bind((settings.host, settings.worker_metrics_port))
        except OSError:
            return free_port()
    return settings.worker_metrics_port


def _start_services(
    settings: Settings, services: list[EmbeddedPostgres | EmbeddedTemporal]
) -> Settings:
    """Starts the embedded PostgreSQL and Temporal when not configured (each put in `services`
    before it starts, so a stop signal half-way still stops it), then applies the migrations;
    the settings pointing at them."""
    from app.definitions.loader import load_definitions
    from app.temporal.actions import ACTION_NAMES

    definitions = load_definitions(settings.definitions_dir, ACTION_NAMES)
    log.info("loaded %d workflow definition(s): %s", len(definitions), ", ".join(definitions))
    if not settings.database_url:
        postgres = EmbeddedPostgres(settings.data_dir / "postgres", settings.embedded_postgres_port)
        services.append(postgres)
        postgres.start()
        settings = replace(settings, database_url=postgres.url)
        log.info("embedded PostgreSQL at %s", postgres.url)
    if not settings.temporal_address:
        temporal = EmbeddedTemporal(
            db_file=settings.data_dir / "temporal.sqlite",
            port=settings.embedded_temporal_port,
            ui_port=settings.embedded_temporal_port + 1000,
        )
        services.append(temporal)
        temporal.start()
        settings = replace(settings, temporal_address=temporal.address)
        log.info("embedded Temporal dev server at %s", temporal.address)
    cmd_migrate(settings)
    return settings


def _wait_for_web(supervisor: Supervisor, settings: Settings, timeout: float = 60) -> None:
    """Until the web server listens; a child that exits before that stops the start-up."""
    deadline = time.monotonic() + timeout
    while not port_is_open(settings.host, settings.port):
        for child in supervisor.children.values():
            code = child.process.poll() if child.process else None
            if code is not None:
                raise DevStackError(
                    f"the {child.name} process exited with code {code}; see its log above"
                )
        if time.monotonic() > deadline:
            raise DevStackError(
                f"web server did not start listening on {settings.host}:{settings.port} "
                f"within {timeout:.0f}s"
            )
        time.sleep(0.05)


def _stop_everything(
    settings: Settings,
    supervisor: Supervisor,
    services: list[EmbeddedPostgres | EmbeddedTemporal],
) -> None:
    """Worker and web first (they use the services), then Temporal, then PostgreSQL; each step
    runs even when one before it failed."""
    supervisor.stop(timeout=max(settings.worker_shutdown_grace, 5) + 5)
    for service in reversed(services):
        try:
            service.stop()
        except DevStackError as exc:
            log.error("%s", exc)


def cmd_simulate(settings: Settings, argv: list[str] | None = None) -> None:
    """Real executions through the JSON API of a running Stepladder (see README, `simulate`)."""
    from app.simulation import SimulationPlan, http_api, simulate, simulate_parser

    options = simulate_parser().parse_args(argv or [])
    base_url = options.base_url or f"http://{settings.host}:{settings.port}{settings.path_prefix}"
    plan = SimulationPlan(
        workflow_id=options.workflow,
        runs=options.runs,
        failure_rate=options.failure_rate,
        fault_step=options.step,
        reject_rate=options.reject_rate,
        starter=options.starter,
        approvers=tuple(a.strip() for a in options.approvers.split(",") if a.strip()),
        admin=options.admin,
        seed=options.seed,
    )
    print(f"simulating {plan.runs} run(s) of {plan.workflow_id} against {base_url}", flush=True)
    asyncio.run(simulate(http_api(base_url), plan, lambda line: print(line, flush=True)))


def cmd_token(settings: Settings, argv: list[str] | None = None) -> None:
    """Create, list and revoke API tokens in the database (see README, "API tokens")."""
    from app.db.engine import tables_bound
    from app.tokens.cli import run_token_command, token_parser

    options = token_parser().parse_args(argv or [])
    if not settings.database_url:
        raise SettingsError("DATABASE_URL is not set: tokens live in the app's database")

    async def run() -> None:
        await check_database(settings.database_url)
        async with tables_bound(settings.database_url):
            await run_token_command(options, print)

    asyncio.run(run())


COMMANDS: dict[str, Callable[[Settings], None]] = {
    "dev": cmd_dev,
    "web": cmd_web,
    "worker": cmd_worker,
    "migrate": cmd_migrate,
    "simulate": cmd_simulate,
    "token": cmd_token,
    "schedules": cmd_schedules,
}
# Commands that take options of their own after the command name.
COMMAND_OPTIONS: dict[str, Callable[[Settings, list[str]], None]] = {
    "simulate": cmd_simulate,
    "token": cmd_token,
    "schedules": cmd_schedules,
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # `stepladder token --help` is the token command's help, not this one's.
    own_help = not (argv and argv[0] in COMMAND_OPTIONS)
    parser = argparse.ArgumentParser(prog="stepladder", description=__doc__, add_help=own_help)
    parser.add_argument("command", choices=sorted(COMMANDS), help="what to run")
    args, rest = parser.parse_known_args(argv)
    if rest and args.command not in COMMAND_OPTIONS:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    from app.domain.definitions import DefinitionError
    from app.simulation import SimulationError
    from app.temporal.client import TemporalUnavailable
    from app.tokens.service import TokenError

    try:
        settings = Settings.from_env()
        _configure_logging(settings)
        if args.command in COMMAND_OPTIONS:
            COMMAND_OPTIONS[args.command](settings, rest)
        else:
            COMMANDS[args.command](settings)
    except (
        SettingsError,
        DevStackError,
        DatabaseUnavailable,
        TemporalUnavailable,
        DefinitionError,
        SimulationError,
        TokenError,
    ) as exc:
        print(f"stepladder {args.command}: {exc}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # Straight out: after a failed connection the Temporal client's native threads can
        # crash the interpreter's clean-up (seen as a 1-in-20 SIGSEGV/SIGABRT instead of
        # exit 1). Nothing is left to clean up here: commands close what they open.
        os._exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
