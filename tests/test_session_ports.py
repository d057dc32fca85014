"""A test session runs on services of its own, on free ports: it never uses `make run`'s
PostgreSQL port or data folder (EMBEDDED_POSTGRES_PORT, DATA_DIR), so it passes while the app
runs from another checkout."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import textwrap
from pathlib import Path

from app.db.tables import TABLES
from app.devstack import free_port
from app.settings import REPO_ROOT

# Run by a nested session: its database must sit on a scratch cluster of that session's own.
CHILD_TEST = """
import os
import tempfile
from urllib.parse import urlsplit

from app.db.tables import TABLES
from app.devstack import SCRATCH_PREFIX
from app.settings import Settings


async def test_the_database_is_on_a_scratch_cluster_of_this_session(database_url):
    assert urlsplit(database_url).port != Settings.from_env().embedded_postgres_port
    rows = await TABLES[0].raw("SHOW data_directory")
    scratch = os.path.join(os.path.realpath(tempfile.gettempdir()), SCRATCH_PREFIX)
    assert rows[0]["data_directory"].startswith(f"{scratch}{os.getpid()}-"), rows
    assert await TABLES[0].raw("SELECT 1 AS one") == [{"one": 1}]
"""


async def test_the_session_database_is_a_fresh_one_named_for_the_session(
    database_url: str,
) -> None:
    rows = await TABLES[0].raw("SELECT current_database() AS name")
    assert rows[0]["name"].startswith("stepladder_test_")
    assert database_url.endswith(f"/{rows[0]['name']}")


async def test_a_session_neither_connects_to_nor_writes_in_make_runs_postgres(
    tmp_path: Path,
) -> None:
    """A nested test session, with something else listening on EMBEDDED_POSTGRES_PORT (as
    `make run`'s PostgreSQL would) and DATA_DIR an empty folder: it passes, the listener is
    never connected to, and DATA_DIR stays empty."""
    connections = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    occupied = await asyncio.start_server(count, "127.0.0.1", free_port())
    port = occupied.sockets[0].getsockname()[1]
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (tmp_path / "test_child.py").write_text(textwrap.dedent(CHILD_TEST))
    env = {
        name: value
        for name, value in os.environ.items()
        # This session's migrate() put its own URL in DATABASE_URL: the child must not see it.
        if name not in ("DATABASE_URL", "TEMPORAL_ADDRESS", "PYTEST_ADDOPTS")
    }
    env |= {"EMBEDDED_POSTGRES_PORT": str(port), "DATA_DIR": str(data_dir)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
        "-c", str(REPO_ROOT / "pyproject.toml"), str(tmp_path / "test_child.py"),
        cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(child.communicate(), timeout=180)
    finally:
        occupied.close()
        await occupied.wait_closed()
    shown = output.decode(errors="replace")
    assert child.returncode == 0, shown
    assert "1 passed" in shown, shown
    assert connections == 0
    assert list(data_dir.iterdir()) == []


def test_no_test_or_benchmark_hard_codes_a_port_of_make_runs_services() -> None:
    """Ports come from free_port() or the SDK's own pick, never from `make run`'s defaults
    (PostgreSQL 55432, Temporal 7233 and its UI 8233)."""
    defaults = re.compile(r"\b(55432|7233|8233)\b")
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for folder in ("tests", "bench")
        for path in sorted((REPO_ROOT / folder).glob("*.py"))
        if path.name != Path(__file__).name
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if defaults.search(line)
    ]
    assert found == []
