"""The `notify:` key, NOTIFY_CHANNELS, and the messages each channel gets (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.domain.definitions import DefinitionError, parse_definition
from app.domain.notifications import (
    Notice,
    NoticeKind,
    NotifySpec,
    email_message,
    parse_channels,
    reminder_offsets,
    slack_message,
    title,
)
from app.temporal.actions import ACTION_NAMES
from tests.test_definitions import onboarding

NOTICE = Notice(
    kind="waiting", workflow_id="customer_onboarding", workflow_name="Customer Onboarding",
    execution_id="customer_onboarding-abc", step_id="create_crm_record",
    step_name="Create CRM Record", impact="write", environment="production",
    key_input="Jane <Doe>", summary="CREATE crm.contacts", waiting_since="2026-11-30T10:00:00+00:00",
    expires_at="2026-11-30T10:30:00+00:00",
)  # fmt: skip


def test_notify_is_read_on_workflow_and_step_and_the_step_wins() -> None:
    raw = onboarding()
    raw["notify"] = "ops"
    raw["steps"][2]["notify"] = {"channels": ["finance"], "reminders": [0.8],
                                 "escalate": {"after": "10m", "group": "leads"}}  # fmt: skip
    definition = parse_definition(raw, "x.yaml", ACTION_NAMES)
    crm, billing = definition.steps[2], definition.steps[3]
    assert definition.notify_for(billing) == NotifySpec(channels=["ops"])
    spec = definition.notify_for(crm)
    assert spec is not None and spec.channels == ["finance"] and spec.reminders == [0.8]
    assert spec.escalation is not None and spec.escalation.after_seconds == 600
    assert reminder_offsets(spec, 1800) == [
        (600.0, NoticeKind.ESCALATION),
        (1440.0, NoticeKind.REMINDER),
    ]


@pytest.mark.parametrize(
    ("notify", "problem"),
    [
        ({"channels": []}, "at least one channel"),
        ({"channels": "ops", "reminders": [1.5]}, "fractions of the timeout"),
        ({"channels": "ops", "escalate": {"group": "x"}}, "needs after"),
        ({"channels": "ops", "colour": 1}, "unknown key(s) colour"),
    ],
)
def test_bad_notify_is_refused_naming_file_and_step(notify: Any, problem: str) -> None:
    raw = onboarding()
    raw["steps"][2]["notify"] = notify
    with pytest.raises(DefinitionError) as refused:
        parse_definition(raw, "x.yaml", ACTION_NAMES)
    assert str(refused.value).startswith("x.yaml, step 'create_crm_record'")
    assert problem in str(refused.value)


@pytest.mark.parametrize(
    ("channels", "problem"),
    [
        ({"a": {"type": "pager"}}, "needs type"),
        ({"a": {"type": "slack"}}, "needs an http(s) url"),
        ({"a": {"type": "email"}}, "needs to:"),
        ({"a": {"type": "webhook", "url": "http://x", "secret": "s"}}, "unknown key(s) secret"),
    ],
)
def test_bad_channels_are_refused_naming_the_channel(channels: Any, problem: str) -> None:
    with pytest.raises(ValueError, match="channel 'a'") as refused:
        parse_channels(channels)
    assert problem in str(refused.value)


def test_slack_message_is_block_kit_with_the_facts_and_an_open_button() -> None:
    now = datetime(2026, 11, 30, 10, 12, tzinfo=UTC)
    message = slack_message(NOTICE, "https://sl/x#step-create_crm_record", now)
    header, section, actions = message["blocks"]
    assert header["type"] == "header" and message["text"] == title(NOTICE)
    texts = [f["text"] for f in section["fields"]]
    assert "*For*\nJane <Doe>" in texts and "*Preview*\nCREATE crm.contacts" in texts
    assert "*Impact*\nwrite · production" in texts
    assert "*Expires*\n2026-11-30 10:30 UTC (in 18 min)" in texts
    assert actions["elements"][0]["url"] == "https://sl/x#step-create_crm_record"


def test_email_has_plain_text_and_escaped_html() -> None:
    subject, text, html = email_message(NOTICE, "https://sl/x")
    assert subject == "Approval needed: Create CRM Record (Customer Onboarding)"
    assert "For: Jane <Doe>" in text and "Open: https://sl/x" in text
    assert "Jane &lt;Doe&gt;" in html and "<a href='https://sl/x'>" in html


def test_titles_say_what_happened() -> None:
    from dataclasses import replace

    assert title(replace(NOTICE, kind="outcome", outcome="rejected", decided_by="carol")) == (
        "Rejected by carol: Create CRM Record (Customer Onboarding)"
    )
    assert title(replace(NOTICE, kind="outcome", outcome="expired")).startswith("Expired: ")
    assert title(replace(NOTICE, kind="escalation", escalated_to="leads")).startswith(
        "Escalated to leads, approval still needed"
    )
