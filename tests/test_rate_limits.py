"""Rate limits on starts (issue 13): per user across every web process (a PostgreSQL counter),
429 with Retry-After and a message on the API and on pages, per workflow for webhooks; schedules
are not limited."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AsyncExitStack
from dataclasses import replace

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from app.db import rate_limits
from app.domain import webhooks
from app.domain.identity import DEMO_USERS
from app.executions.limits import StartLimiter, StartRateLimited
from app.settings import RateLimit, Settings, SettingsError, parse_rate_limit
from app.web.app import create_app
from tests.conftest import api_headers, http_client, signed_in
from tests.test_web import HTML, csrf_token
from tests.test_webhooks import SECRET, WORKFLOW, hooked_definition

START = "/api/workflows/executions/start"
BODY = {
    "workflow_id": "customer_onboarding",
    "workflow_data": {"name": "Rate Limited", "email": "rl@example.com"},
}


@pytest.mark.parametrize(
    ("raw", "limit"),
    [
        ("10/minute", RateLimit(10, 60)),
        ("60/min", RateLimit(60, 60)),
        ("5/10s", RateLimit(5, 10)),
        ("100 / hour", RateLimit(100, 3600)),
        ("off", None),
        ("0", None),
    ],
)
def test_rate_limits_read_count_per_window(raw: str, limit: RateLimit | None) -> None:
    assert parse_rate_limit("STEPLADDER_START_RATE_LIMIT", raw) == limit


@pytest.mark.parametrize("raw", ["ten a minute", "10/fortnight", "-1/minute", "10"])
def test_a_bad_rate_limit_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="STEPLADDER_START_RATE_LIMIT must look like"):
        parse_rate_limit("STEPLADDER_START_RATE_LIMIT", raw)


async def test_the_limiter_says_how_long_until_the_window_frees(database_url: str) -> None:
    window_start = 1_800_000_000  # a multiple of 60: a minute's first second
    limiter = StartLimiter(RateLimit(2, 60), None, clock=lambda: window_start + 18.5)
    bob = DEMO_USERS["bob"]
    await limiter.admit("customer_onboarding", bob, "api")
    await limiter.admit("customer_onboarding", bob, "form")
    with pytest.raises(StartRateLimited) as refused:
        await limiter.admit("customer_onboarding", bob, "run")
    assert refused.value.retry_after_seconds == 42
    assert str(refused.value) == "2 starts per minute per user; try again in 42 s"
    # Another user has a count of their own; schedules are never counted.
    await limiter.admit("customer_onboarding", DEMO_USERS["carol"], "api")
    for _ in range(5):
        await limiter.admit("customer_onboarding", bob, "schedule")
    # The next window starts afresh.
    limiter.clock = lambda: window_start + 60.0
    await limiter.admit("customer_onboarding", bob, "api")


def test_rate_limits_and_webhook_secrets_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEPLADDER_START_RATE_LIMIT", "3/10s")
    monkeypatch.setenv("STEPLADDER_WEBHOOK_RATE_LIMIT", "off")
    monkeypatch.setenv("STEPLADDER_WEBHOOK_SECRETS", '{"customer_onboarding": "s3cret"}')
    read = Settings.from_env()
    assert read.start_rate_limit == RateLimit(3, 10)
    assert read.webhook_rate_limit is None
    assert read.webhook_secrets == {"customer_onboarding": "s3cret"}
    monkeypatch.setenv("STEPLADDER_WEBHOOK_SECRETS", '["not", "a", "mapping"]')
    with pytest.raises(SettingsError, match="STEPLADDER_WEBHOOK_SECRETS must be a JSON object"):
        Settings.from_env()
    monkeypatch.delenv("STEPLADDER_WEBHOOK_SECRETS")
    monkeypatch.setenv("STEPLADDER_START_RATE_LIMIT", "lots")
    with pytest.raises(SettingsError, match="STEPLADDER_START_RATE_LIMIT"):
        Settings.from_env()


async def test_concurrent_hits_are_counted_exactly_once_each(database_url: str) -> None:
    # One atomic upsert per hit: 25 at once over separate connections still count 1..25.
    hits = await asyncio.gather(
        *(rate_limits.count_hit("user:race", 1_800_000_000, 60) for _ in range(25))
    )
    assert sorted(hits) == list(range(1, 26))


async def away_from_a_window_edge(window_seconds: int = 60, margin: float = 8.0) -> None:
    """When the current fixed window has less than `margin` seconds left, wait for the next one
    (the clock is the condition), so a burst of starts falls in one window."""
    left = window_seconds - time.time() % window_seconds
    if left < margin:
        await asyncio.sleep(left + 0.05)


async def test_the_11th_start_in_a_minute_gets_429_across_two_app_instances(
    settings: Settings, worker: Worker, temporal_client: Client
) -> None:
    assert settings.start_rate_limit == RateLimit(10, 60), "the default limit is under test"
    started: list[str] = []
    async with AsyncExitStack() as stack:
        one = await stack.enter_async_context(http_client(create_app(settings)))
        two = await stack.enter_async_context(http_client(create_app(settings)))
        await away_from_a_window_edge()
        for index in range(10):
            app = one if index % 2 else two
            response = await app.post(START, json=BODY, headers=api_headers("bob"))
            assert response.status_code == 201, (index, response.text)
            started.append(response.json()["execution_id"])
        refused = await one.post(START, json=BODY, headers=api_headers("bob"))
        assert refused.status_code == 429
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        assert refused.json()["detail"] == (
            f"10 starts per minute per user; try again in {retry_after} s"
        )
        assert refused.json()["extra"]["retry_after_seconds"] == retry_after
        assert (await two.post(START, json=BODY, headers=api_headers("bob"))).status_code == 429
        # Another user is not held up by bob's starts.
        other = await two.post(START, json=BODY, headers=api_headers("carol"))
        assert other.status_code == 201
        started.append(other.json()["execution_id"])
    for execution_id in started:
        await temporal_client.get_workflow_handle(execution_id).terminate("test over")


async def test_a_rate_limited_form_start_shows_the_message_on_a_page(
    settings: Settings, worker: Worker
) -> None:
    app = create_app(replace(settings, start_rate_limit=RateLimit(1, 3600)))
    async with http_client(app) as browser:
        signed_in(browser, settings, "carol")
        form = await browser.get("/workflows/customer_onboarding", headers=HTML)
        data = {"name": "Form User", "email": "form@example.com", "tier": "basic",
                "_csrf_token": csrf_token(form.text)}  # fmt: skip
        first = await browser.post(
            "/workflows/customer_onboarding/executions", data=data, headers=HTML
        )
        assert first.status_code == 303
        second = await browser.post(
            "/workflows/customer_onboarding/executions", data=data, headers=HTML
        )
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) >= 1
    assert "text/html" in second.headers["content-type"]
    assert "1 start per hour per user; try again in" in second.text


async def test_webhooks_are_limited_per_workflow(
    settings: Settings, worker: Worker, temporal_client: Client
) -> None:
    app = create_app(
        replace(
            settings, webhook_secrets={WORKFLOW: SECRET}, webhook_rate_limit=RateLimit(2, 3600)
        ),
        definitions={WORKFLOW: hooked_definition()},
    )
    answers = []
    async with http_client(app) as sender:
        for index in range(3):
            body = json.dumps({
                "id": f"limited-{index}", "type": "customer.created",
                "data": {"customer": {"name": "Hook", "email": "hook@example.com"}},
            }).encode()  # fmt: skip
            headers = {"X-Signature": webhooks.sign(SECRET, body)}
            answers.append(
                await sender.post(
                    f"/api/workflows/webhooks/{WORKFLOW}/", content=body, headers=headers
                )
            )
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert "2 starts per hour per workflow webhook" in answers[2].json()["detail"]
    assert "Retry-After" in answers[2].headers
    for answer in answers[:2]:
        await temporal_client.get_workflow_handle(answer.json()["execution_id"]).terminate("done")
