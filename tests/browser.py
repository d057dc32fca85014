"""Browser-test plumbing: the real `stepladder web` process and headless Chromium (both set up
as the benchmarks do: bench/stack.py, bench/chromium.py)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, Page, async_playwright

from app.devstack import free_port
from app.settings import Settings
from bench.chromium import CHROMIUM_ARGS, chromium_path
from bench.stack import web_process

__all__ = ["CHROMIUM_ARGS", "chromium_path", "free_port", "sign_in"]


@pytest.fixture(scope="session")
def web_server(settings: Settings) -> Iterator[str]:
    """`stepladder web` as its own process, on the test database and Temporal server."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_TASK_QUEUE": settings.task_queue,
        "LOG_LEVEL": "WARNING",
        "FAULT_INJECTION": "on",
    }
    with web_process(env) as web:
        yield web.url


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
