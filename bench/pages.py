"""Every list page and list API at a big history (issue 16, target p95 < 100 ms with 1,000,000
step runs, 100,000 executions and 10,000 waiting approvals): a bench stack, `bench.seed_big`
seeds it, one `stepladder web` process answers; each URL is fetched `--runs` times in turn
(after two warm-up fetches), one request at a time, timed from the client.

Run: `.venv/bin/python -m bench.pages [--executions N] [--step-runs R] [--waiting W] [--runs 30]`;
prints a Markdown section (sizes are the ones counted in the database after seeding).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import time
from datetime import UTC, datetime
from urllib.parse import unquote

import httpx

from app.web.identity import DEV_USER_HEADER
from bench.report import TABLE_HEAD, machine_in_detail, note, row
from bench.seed_big import WAITING_STEP, WORKFLOW, seed
from bench.stack import stack

STEPS = f"/workflows/{WORKFLOW}/steps"
API_STEPS = f"/api/workflows/{WORKFLOW}"


def urls(inbox_cursor: str, executions_cursor: str) -> list[tuple[str, str, dict[str, str]]]:
    """(user, path, query) of every list page and list API, first and a later page."""
    return [
        ("carol", "/", {}),
        ("carol", "/executions", {}),
        ("carol", "/executions", {"before": executions_cursor}),
        ("carol", "/executions", {"status": "running"}),
        ("carol", "/executions", {"waiting": "true"}),
        ("carol", "/api/workflows/executions", {"limit": "50"}),
        ("carol", "/approvals", {}),
        ("carol", "/approvals", {"after": inbox_cursor}),
        ("carol", "/api/workflows/approvals", {"limit": "50"}),
        ("carol", "/api/workflows/approvals", {"limit": "50", "after": inbox_cursor}),
        ("carol", "/workflows", {}),
        ("carol", "/api/workflows", {}),
        ("ada", STEPS, {}),
        ("ada", f"{STEPS}/{WAITING_STEP}", {}),
        ("ada", f"{API_STEPS}/steps", {}),
        ("ada", f"{API_STEPS}/steps/{WAITING_STEP}/analytics", {}),
        ("ada", f"{API_STEPS}/mode-changes", {}),
        ("ada", "/workers", {}),
        ("ada", "/admin/tokens", {}),
    ]


async def cursors(http: httpx.AsyncClient) -> tuple[str, str]:
    """An inbox cursor 5 pages in, and an executions cursor 20 pages (of 50) in."""
    after = ""
    for _ in range(5):
        params = {"limit": "50", **({"after": after} if after else {})}
        response = await http.get("/api/workflows/approvals", params=params,
                                  headers={DEV_USER_HEADER: "carol"})  # fmt: skip
        after = response.headers["X-Next-Cursor"]
    before = ""
    for _ in range(20):  # follow the executions page's "Older" link
        page = await http.get("/executions", params={"before": before} if before else {},
                              headers={DEV_USER_HEADER: "carol"})  # fmt: skip
        found = re.search(r'before=([^"&]+)', page.text)
        assert found, "the executions page has no Older link"
        before = unquote(html.unescape(found.group(1)))
    return after, before


async def timed(http: httpx.AsyncClient, user: str, path: str, query: dict[str, str],
                runs: int) -> tuple[list[float], int]:  # fmt: skip
    headers = {DEV_USER_HEADER: user, "accept": "text/html"}
    status = 0
    times: list[float] = []
    for attempt in range(runs + 2):
        start = time.perf_counter()
        response = await http.get(path, params=query, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        status = response.status_code
        if attempt >= 2:
            times.append(elapsed)
    return times, status


async def run(executions: int, step_runs: int, waiting: int, runs: int) -> str:
    async with stack("pages") as bench:
        note(f"seeding {executions} executions, {step_runs} step runs, {waiting} waiting")
        seeded = await seed(bench.database_url, executions=executions, step_runs=step_runs,
                            waiting=waiting)  # fmt: skip
        note(f"seeded {seeded}")
        with bench.web() as web:
            async with httpx.AsyncClient(base_url=web.url, timeout=60) as http:
                inbox_cursor, executions_cursor = await cursors(http)
                lines = []
                for user, path, query in urls(inbox_cursor, executions_cursor):
                    times, status = await timed(http, user, path, query, runs)
                    shown = path + ("?" + "&".join(f"{k}=…" if k in ("after", "before")
                                                   else f"{k}={v}" for k, v in query.items())
                                    if query else "")  # fmt: skip
                    lines.append(row(f"`{shown}` ({status})", times))
                    note(lines[-1])
    return "\n".join([
        f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine_in_detail()}.",
        f"Seeded (counted in PostgreSQL): {seeded.executions:,} executions, "
        f"{seeded.step_runs:,} step runs, {seeded.waiting:,} waiting approvals, "
        f"in {seeded.seconds:.0f} s.",
        "",
        TABLE_HEAD,
        *lines,
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=100_000)
    parser.add_argument("--step-runs", type=int, default=1_000_000)
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    print(asyncio.run(run(args.executions, args.step_runs, args.waiting, args.runs)))


if __name__ == "__main__":
    main()
