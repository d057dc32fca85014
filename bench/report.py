"""What every benchmark prints: percentiles, Markdown table rows, the machine it ran on."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from datetime import datetime


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank percentile (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def row(name: str, values: list[float], digits: int = 1) -> str:
    """`| name | n | p50 | p95 | mean |` in milliseconds."""
    p50, p95, mean = percentile(values, 50), percentile(values, 95), statistics.mean(values)
    return f"| {name} | {len(values)} | {p50:.{digits}f} | {p95:.{digits}f} | {mean:.{digits}f} |"


TABLE_HEAD = "| measurement | n | p50 ms | p95 ms | mean ms |\n|---|---|---|---|---|"


def machine() -> str:
    """One line naming the machine, as docs/benchmarks.md records it."""
    return (
        f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · "
        f"Python {platform.python_version()}"
    )


def machine_in_detail() -> str:
    """The machine with its memory and kernel, for runs whose numbers depend on them."""

    def run(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()

    memory = run("free", "-g").splitlines()
    total = memory[1].split()[1] if len(memory) > 1 else "?"
    return (f"{platform.node()} · {platform.machine()} · nproc {run('nproc')} · "
            f"{total} GiB RAM (`free -g`) · Python {platform.python_version()} · "
            f"{run('uname', '-sr')}")  # fmt: skip


def note(message: str) -> None:
    """Progress on stderr, so stdout stays the Markdown to paste."""
    print(f"{datetime.now():%H:%M:%S} {message}", file=sys.stderr, flush=True)
