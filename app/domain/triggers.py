"""Triggers of a definition (`triggers:`): Temporal Schedules and signed webhooks.

A trigger starts executions without a person at a form. Its `input:` mapping is templated with
`{{ trigger.<field> }}` (the schedule's own data, or a webhook payload's `data`) into the
workflow's input; without one, the trigger's fields that are input names become the input.
Secrets never come from the file: a webhook names the environment variable (or settings key)
that holds its secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OVERLAP_POLICIES = (
    "skip",
    "buffer_one",
    "buffer_all",
    "cancel_other",
    "terminate_other",
    "allow_all",
)
_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class TriggerProblem(ValueError):
    """A trigger entry that cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class ScheduleTrigger:
    """A Temporal Schedule starting this workflow: `cron` expressions and/or an
    `interval_seconds`, read in `time_zone` (IANA name); `overlap` is Temporal's overlap policy
    (default skip); a missed run is still taken within `catchup_window_seconds`."""

    id: str
    cron: list[str] = field(default_factory=list)
    interval_seconds: float = 0.0
    time_zone: str = "UTC"
    input: dict[str, Any] = field(default_factory=dict)
    overlap: str = "skip"
    catchup_window_seconds: float = 300.0
    paused: bool = False


@dataclass(frozen=True)
class WebhookTrigger:
    """A signed webhook at `POST /api/workflows/webhooks/{workflow_id}/`: HMAC-SHA256 of the raw
    body with the secret held by the environment variable `secret_env` (default
    STEPLADDER_WEBHOOK_SECRET_<WORKFLOW_ID>); `events` filters the payload's event type (empty:
    all); a timestamp older than `tolerance_seconds` is refused as a replay."""

    id: str = "webhook"
    secret_env: str = ""
    events: list[str] = field(default_factory=list)
    input: dict[str, Any] = field(default_factory=dict)
    tolerance_seconds: float = 300.0


def seconds_of(value: Any, key: str) -> float:
    """A duration as seconds: a number (seconds) or text like "90s", "5m", "2h", "1d", "500ms".
    Raises TriggerProblem naming `key` for anything else or for a value ≤ 0."""
    if isinstance(value, bool):
        raise TriggerProblem(f"{key} must be a duration like 30s, 5m or 1h, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise TriggerProblem(f"{key} must be a duration like 30s, 5m or 1h, got {value!r}")
        seconds = float(match["n"]) * _UNIT_SECONDS[match["unit"]]
    if seconds <= 0:
        raise TriggerProblem(f"{key} must be more than zero, got {value!r}")
    return seconds


def default_secret_env(workflow_id: str) -> str:
    """The environment variable holding a webhook's secret when the trigger names none."""
    return "STEPLADDER_WEBHOOK_SECRET_" + re.sub(r"[^A-Z0-9]", "_", workflow_id.upper())


def parse_triggers(
    raw: Any, workflow_id: str, fail: Callable[[str], Exception]
) -> tuple[list[ScheduleTrigger], list[WebhookTrigger]]:
    """The `triggers:` list of a definition → (schedules, webhooks). `fail(problem)` makes the
    error to raise (the parser's, naming the file). Each entry has `type: schedule | webhook`."""
    if raw in (None, []):
        return [], []
    if not isinstance(raw, list):
        raise fail("triggers must be a list of entries with a type (schedule or webhook)")
    schedules: list[ScheduleTrigger] = []
    webhooks: list[WebhookTrigger] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("type") not in ("schedule", "webhook"):
            raise fail(f"trigger #{index + 1} needs type: schedule or type: webhook")
        options = {k: v for k, v in item.items() if k != "type"}
        try:
            if item["type"] == "schedule":
                schedules.append(_schedule(options, f"schedule-{len(schedules) + 1}"))
            else:
                webhooks.append(_webhook(options, workflow_id))
        except TriggerProblem as exc:
            raise fail(f"trigger #{index + 1} ({item['type']}): {exc}") from None
    _unique([s.id for s in schedules] + [w.id for w in webhooks], fail)
    if len(webhooks) > 1:
        raise fail("a workflow has at most one webhook trigger (it answers at one URL)")
    return schedules, webhooks


def _unique(ids: list[str], fail: Callable[[str], Exception]) -> None:
    seen: set[str] = set()
    for trigger_id in ids:
        if trigger_id in seen:
            raise fail(f"trigger id {trigger_id!r} is used twice")
        seen.add(trigger_id)


def _known_keys(options: dict[str, Any], allowed: set[str]) -> None:
    extra = set(options) - allowed
    if extra:
        raise TriggerProblem(f"unknown key(s) {', '.join(sorted(extra))}")


def _trigger_id(options: dict[str, Any], default: str) -> str:
    trigger_id = str(options.get("id") or default)
    if not _ID.match(trigger_id):
        raise TriggerProblem(f"id {trigger_id!r} may hold only letters, digits, _ . - (≤ 64)")
    return trigger_id


def _mapping(options: dict[str, Any], key: str) -> dict[str, Any]:
    value = options.get(key) or {}
    if not isinstance(value, dict):
        raise TriggerProblem(f"{key} must be a mapping")
    return value


def _schedule(options: dict[str, Any], default_id: str) -> ScheduleTrigger:
    _known_keys(options, {"id", "cron", "interval", "time_zone", "input", "overlap",
                          "catchup_window", "paused"})  # fmt: skip
    cron = options.get("cron") or []
    cron = [cron] if isinstance(cron, str) else cron
    if not isinstance(cron, list) or not all(isinstance(c, str) and c.strip() for c in cron):
        raise TriggerProblem("cron must be a cron expression or a list of them")
    for expression in cron:
        if len(expression.split()) not in (5, 6, 7) and not expression.startswith("@"):
            raise TriggerProblem(
                f"cron {expression!r} needs 5 fields (minute hour day month weekday)"
            )
    interval = seconds_of(options["interval"], "interval") if "interval" in options else 0.0
    if not cron and not interval:
        raise TriggerProblem("a schedule needs cron, interval or both")
    overlap = str(options.get("overlap", "skip"))
    if overlap not in OVERLAP_POLICIES:
        raise TriggerProblem(f"overlap must be one of {', '.join(OVERLAP_POLICIES)}")
    catchup = options.get("catchup_window", "5m")
    return ScheduleTrigger(
        id=_trigger_id(options, default_id),
        cron=[c.strip() for c in cron],
        interval_seconds=interval,
        time_zone=str(options.get("time_zone") or "UTC"),
        input=_mapping(options, "input"),
        overlap=overlap,
        catchup_window_seconds=seconds_of(catchup, "catchup_window"),
        paused=bool(options.get("paused", False)),
    )


def _webhook(options: dict[str, Any], workflow_id: str) -> WebhookTrigger:
    if "secret" in options:
        raise TriggerProblem("a secret never goes in the file: name its variable in secret_env")
    _known_keys(options, {"id", "secret_env", "events", "event", "input", "tolerance"})
    events = options.get("events", options.get("event")) or []
    events = [events] if isinstance(events, str) else events
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise TriggerProblem("event(s) must be an event name or a list of them")
    secret_env = str(options.get("secret_env") or default_secret_env(workflow_id))
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", secret_env):
        raise TriggerProblem(f"secret_env {secret_env!r} is not an environment variable name")
    return WebhookTrigger(
        id=_trigger_id(options, "webhook"),
        secret_env=secret_env,
        events=list(events),
        input=_mapping(options, "input"),
        tolerance_seconds=seconds_of(options.get("tolerance", 300), "tolerance"),
    )
