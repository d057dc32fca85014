"""Telling approvers a step waits: the definition's `notify:` key, the channels of settings, and
the messages (generic JSON webhook, Slack Block Kit, email) — pure: sending is the engine's.

A notice is sent when a step starts waiting, as reminders before it expires (by default at 50 %
and 90 % of its approval timeout), once as an escalation after `escalate.after`, and with the
outcome (approved, rejected, expired; by whom).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.domain.text import duration_text
from app.domain.triggers import TriggerProblem, seconds_of

CHANNEL_TYPES = ("webhook", "slack", "email")
DEFAULT_REMINDERS = (0.5, 0.9)
SIGNATURE_HEADER = "X-Stepladder-Signature"


class NoticeKind(StrEnum):
    WAITING = "waiting"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    OUTCOME = "outcome"


@dataclass(frozen=True)
class Escalation:
    """After `after_seconds` of waiting, tell `channels` (default: the step's) that the step is
    escalated to `group` (named in the message; who may decide is unchanged)."""

    after_seconds: float
    group: str = ""
    channels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class NotifySpec:
    """A workflow's or a step's `notify:`: the channels (names from settings' NOTIFY_CHANNELS),
    reminders as fractions of the approval timeout, an optional escalation, and whether the
    outcome is sent too."""

    channels: list[str] = field(default_factory=list)
    reminders: list[float] = field(default_factory=lambda: list(DEFAULT_REMINDERS))
    escalation: Escalation | None = None
    outcome: bool = True


@dataclass(frozen=True)
class Channel:
    """One configured receiver: a generic JSON `webhook` (HMAC-SHA256 signed with the secret in
    the environment variable `secret_env`), a `slack` incoming webhook, or `email` to `to`.
    `embed` makes links open the chromeless page (for an intranet portal)."""

    name: str
    type: str
    url: str = ""
    secret_env: str = ""
    to: list[str] = field(default_factory=list)
    embed: bool = False


@dataclass(frozen=True)
class SmtpServer:
    """Where email goes (SMTP_HOST, SMTP_PORT, SMTP_USERNAME, SMTP_PASSWORD, SMTP_STARTTLS,
    SMTP_FROM in settings)."""

    host: str = ""
    port: int = 25
    username: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "stepladder@localhost"


@dataclass(frozen=True)
class Notice:
    """What one notification says. Times are ISO-8601 with their zone."""

    kind: str
    workflow_id: str
    workflow_name: str
    execution_id: str
    step_id: str
    step_name: str
    impact: str
    environment: str
    key_input: str = ""
    summary: str = ""  # the preview's summary line
    waiting_since: str = ""
    expires_at: str = ""
    outcome: str = ""  # approved | rejected | expired (kind "outcome")
    decided_by: str = ""
    reason: str = ""
    escalated_to: str = ""


def parse_notify(raw: Any, fail: Callable[[str], Exception]) -> NotifySpec | None:
    """A `notify:` value → NotifySpec: a channel name, a list of names, or a mapping with
    `channels`, `reminders` (fractions between 0 and 1, or [] for none), `escalate: {after,
    group, channels}` and `outcome` (default true). Raises `fail(problem)`."""
    if raw in (None, "", []):
        return None
    if isinstance(raw, (str, list)):
        raw = {"channels": raw}
    if not isinstance(raw, dict):
        raise fail("notify must be a channel name, a list of them, or a mapping with channels")
    extra = set(raw) - {"channels", "reminders", "escalate", "outcome"}
    if extra:
        raise fail(f"notify has unknown key(s) {', '.join(sorted(extra))}")
    channels = _names(raw.get("channels"), "notify.channels", fail)
    if not channels:
        raise fail("notify needs at least one channel")
    reminders = raw.get("reminders", list(DEFAULT_REMINDERS))
    if not isinstance(reminders, list) or not all(
        isinstance(r, (int, float)) and not isinstance(r, bool) and 0 < r < 1 for r in reminders
    ):
        raise fail("notify.reminders must be a list of fractions of the timeout, e.g. [0.5, 0.9]")
    return NotifySpec(
        channels=channels,
        reminders=sorted(float(r) for r in reminders),
        escalation=_escalation(raw.get("escalate"), fail),
        outcome=bool(raw.get("outcome", True)),
    )


def _names(raw: Any, key: str, fail: Callable[[str], Exception]) -> list[str]:
    names = [raw] if isinstance(raw, str) else raw or []
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise fail(f"{key} must be a channel name or a list of them")
    return list(names)


def _escalation(raw: Any, fail: Callable[[str], Exception]) -> Escalation | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or "after" not in raw:
        raise fail("notify.escalate needs after (e.g. 15m) and a group or channels")
    extra = set(raw) - {"after", "group", "channels"}
    if extra:
        raise fail(f"notify.escalate has unknown key(s) {', '.join(sorted(extra))}")
    try:
        after = seconds_of(raw["after"], "notify.escalate.after")
    except TriggerProblem as exc:
        raise fail(str(exc)) from None
    return Escalation(
        after_seconds=after,
        group=str(raw.get("group") or ""),
        channels=_names(raw.get("channels"), "notify.escalate.channels", fail),
    )


def parse_channels(raw: Any) -> dict[str, Channel]:
    """NOTIFY_CHANNELS (parsed JSON): `{"name": {"type": "slack", "url": ...}, ...}` → channels.
    Raises ValueError naming the channel and what is wrong."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValueError("NOTIFY_CHANNELS must be a JSON object of name → channel")
    channels = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict) or spec.get("type") not in CHANNEL_TYPES:
            raise ValueError(f"channel {name!r} needs type: one of {', '.join(CHANNEL_TYPES)}")
        extra = set(spec) - {"type", "url", "secret_env", "to", "embed"}
        if extra:
            raise ValueError(f"channel {name!r} has unknown key(s) {', '.join(sorted(extra))}")
        to = [spec["to"]] if isinstance(spec.get("to"), str) else list(spec.get("to") or [])
        channel = Channel(name, spec["type"], str(spec.get("url", "")),
                          str(spec.get("secret_env", "")), to, bool(spec.get("embed", False)))  # fmt: skip
        if channel.type in ("webhook", "slack") and not channel.url.startswith(
            ("http://", "https://")
        ):
            raise ValueError(f"channel {name!r} needs an http(s) url")
        if channel.type == "email" and not channel.to:
            raise ValueError(f"channel {name!r} needs to: one or more addresses")
        channels[name] = channel
    return channels


def reminder_offsets(spec: NotifySpec, timeout_seconds: float) -> list[tuple[float, NoticeKind]]:
    """Seconds after the wait began at which reminders and the escalation fall due, in order;
    only those before the timeout."""
    due = [(fraction * timeout_seconds, NoticeKind.REMINDER) for fraction in spec.reminders]
    if spec.escalation is not None and spec.escalation.after_seconds < timeout_seconds:
        due.append((spec.escalation.after_seconds, NoticeKind.ESCALATION))
    return sorted(due)


# --- the messages ---------------------------------------------------------------------------


def title(notice: Notice) -> str:
    """One line saying what happened, e.g. "Approval needed: Create CRM Record (Customer
    Onboarding)"."""
    what = f"{notice.step_name} ({notice.workflow_name})"
    if notice.kind == NoticeKind.OUTCOME:
        by = f" by {notice.decided_by}" if notice.decided_by else ""
        return f"{notice.outcome.capitalize()}{by}: {what}"
    if notice.kind == NoticeKind.REMINDER:
        return f"Reminder, approval still needed: {what}"
    if notice.kind == NoticeKind.ESCALATION:
        to = f" to {notice.escalated_to}" if notice.escalated_to else ""
        return f"Escalated{to}, approval still needed: {what}"
    return f"Approval needed: {what}"


def facts(notice: Notice, now: datetime | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs every channel shows: key input, preview summary, impact, expiry."""
    rows = [("Workflow", notice.workflow_name), ("Step", notice.step_name)]
    if notice.key_input:
        rows.append(("For", notice.key_input))
    if notice.summary:
        rows.append(("Preview", notice.summary))
    rows.append(("Impact", f"{notice.impact} · {notice.environment}"))
    if notice.kind != NoticeKind.OUTCOME and notice.expires_at:
        rows.append(("Expires", _expiry(notice.expires_at, now)))
    if notice.reason:
        rows.append(("Reason", notice.reason))
    rows.append(("Execution", notice.execution_id))
    return rows


def _expiry(expires_at: str, now: datetime | None) -> str:
    at = datetime.fromisoformat(expires_at)
    shown = at.strftime("%Y-%m-%d %H:%M %Z").strip()
    if now is None:
        return shown
    left = (at - now).total_seconds()
    return f"{shown} (in {duration_text(left)})" if left > 0 else f"{shown} (passed)"


def webhook_body(notice: Notice, link: str) -> dict[str, Any]:
    """The generic webhook's JSON: the notice's fields, its title and the link."""
    return {"event": f"step.{notice.kind}", "title": title(notice), "link": link, **asdict(notice)}


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the raw body with the channel's secret (the scheme of
    GitHub's X-Hub-Signature-256), sent in X-Stepladder-Signature."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def encoded(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def slack_message(notice: Notice, link: str, now: datetime | None = None) -> dict[str, Any]:
    """A Slack incoming-webhook message in Block Kit (api.slack.com/block-kit): a header, the
    facts as fields, and an "Open" button to the step's approval panel."""
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in facts(notice, now)
    ]
    button = "Open" if notice.kind != NoticeKind.OUTCOME else "Open timeline"
    return {
        "text": title(notice),  # the notification's fallback text
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title(notice)[:150]}},
            {"type": "section", "fields": fields[:10]},  # Slack allows at most 10 fields
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": button},
                 "url": link, "style": "primary", "action_id": "open"},
            ]},
        ],
    }  # fmt: skip


def email_message(notice: Notice, link: str, now: datetime | None = None) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the email."""
    rows = facts(notice, now)
    text = "\n".join([title(notice), "", *(f"{k}: {v}" for k, v in rows), "", f"Open: {link}"])
    cells = "".join(
        f"<tr><th align='left'>{_escape(k)}</th><td>{_escape(v)}</td></tr>" for k, v in rows
    )
    html = (
        f"<h2>{_escape(title(notice))}</h2><table>{cells}</table>"
        f"<p><a href='{_escape(link)}'>Open in Stepladder</a></p>"
    )
    return title(notice), text, html


def _escape(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;")
    )
