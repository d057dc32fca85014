"""Browser-test plumbing: the real `stepladder web` process and headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright

from app.settings import REPO_ROOT, Settings

# Flags that keep Chromium off the (closed) network and working as root in a container.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def chromium_path() -> str:
    for candidate in (os.environ.get("CHROMIUM_PATH", ""), "/usr/bin/chromium", "chromium"):
        found = shutil.which(candidate) if candidate else None
        if found:
            return found
    raise RuntimeError("Chromium not found: run `make browser` or set CHROMIUM_PATH")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def web_server(settings: Settings) -> Iterator[str]:
    """`stepladder web` as its own process, on the test database and Temporal server."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": settings.task_queue,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "FAULT_INJECTION": "on",
    }
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "web"], env=env, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"stepladder web exited with {process.returncode}")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("stepladder web did not answer /health within 60s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


async def sign_in(browser: Browser, base_url: str, user_label: str) -> Page:
    """A fresh browser context signed in through the dev sign-in menu."""
    context = await browser.new_context(base_url=base_url)
    page = await context.new_page()
    await page.goto("/")
    await page.get_by_label(user_label).check()
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base_url}/")
    return page
