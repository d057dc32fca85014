"""Every GET page and list API at a big history (issue 16, target p95 < 100 ms with 1,000,000
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


JSON = "application/json"


def urls(
    inbox_cursor: str, executions_cursor: str, execution_id: str
) -> list[tuple[str, str, dict[str, str], str]]:
    """(user, path, query, accept) of every GET page and list API (app/web/app.py's routes but
    the streams, static files and forms), first and a later page; `execution_id` is a real
    execution (its timeline is Temporal's), the big history's are PostgreSQL rows only."""
    html_pages = [
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
        ("carol", f"/workflows/{WORKFLOW}", {}),
        ("carol", "/api/workflows", {}),
        ("carol", f"{API_STEPS}/", {}),
        ("ada", STEPS, {}),
        ("ada", f"{STEPS}/{WAITING_STEP}", {}),
        ("ada", f"{STEPS}/{WAITING_STEP}/form", {}),
        ("ada", f"{API_STEPS}/steps", {}),
        ("ada", f"{API_STEPS}/steps/{WAITING_STEP}", {}),
        ("ada", f"{API_STEPS}/steps/{WAITING_STEP}/analytics", {}),
        ("ada", f"{API_STEPS}/mode-changes", {}),
        ("ada", f"{API_STEPS}/schedules", {}),
        ("carol", f"/executions/{execution_id}", {}),
        ("carol", f"/executions/{execution_id}/cancel", {}),
        ("ada", "/workers", {}),
        ("ada", "/workers/banner", {}),
        ("ada", "/api/workers", {}),
        ("ada", "/admin/tokens", {}),
        ("ada", "/api/tokens", {}),
        ("ada", "/live/stats", {}),
        ("ada", "/metrics", {}),
        ("ada", "/health", {}),
    ]
    json_reads = [
        ("carol", f"/executions/{execution_id}", {}),
        ("carol", f"/api/workflows/executions/{execution_id}", {}),
    ]
    return [(*u, "text/html") for u in html_pages] + [(*u, JSON) for u in json_reads]


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


async def started(http: httpx.AsyncClient) -> str:
    """A real execution of the onboarding started through the API (bob), for its pages."""
    response = await http.post(
        "/api/workflows/executions/start", headers={DEV_USER_HEADER: "bob"},
        json={"workflow_id": WORKFLOW,
              "workflow_data": {"name": "Bench", "email": "bench@example.com", "tier": "basic"}},
    )  # fmt: skip
    response.raise_for_status()
    execution_id: str = response.json()["execution_id"]
    return execution_id


async def timed(http: httpx.AsyncClient, user: str, path: str, query: dict[str, str],
                runs: int, accept: str = "text/html") -> tuple[list[float], int]:  # fmt: skip
    headers = {DEV_USER_HEADER: user, "accept": accept}
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
            async with bench.worker(), httpx.AsyncClient(base_url=web.url, timeout=60) as http:
                execution_id = await started(http)
                inbox_cursor, executions_cursor = await cursors(http)
                lines = []
                for user, path, query, accept in urls(inbox_cursor, executions_cursor,
                                                      execution_id):  # fmt: skip
                    times, status = await timed(http, user, path, query, runs, accept)
                    shown = path.replace(execution_id, "{id}") + (
                        "?" + "&".join(f"{k}=…" if k in ("after", "before") else f"{k}={v}"
                                       for k, v in query.items()) if query else "")  # fmt: skip
                    shown += " (JSON)" if accept == JSON else ""
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
