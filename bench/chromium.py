"""Headless Chromium for the benchmarks and the browser tests: where it is, how it is launched."""

from __future__ import annotations

import os
import shutil

# Flags that keep Chromium off the (closed) network and working as root in a container.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str:
    """CHROMIUM_PATH, else Debian's chromium (`make browser` installs it)."""
    for candidate in (os.environ.get("CHROMIUM_PATH", ""), "/usr/bin/chromium", "chromium"):
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    raise RuntimeError("Chromium not found: run `make browser` or set CHROMIUM_PATH")
