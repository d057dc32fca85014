"""Temporal Schedules of a definition's `triggers:` in words and ids (pure: no Temporal here)."""

from __future__ import annotations

from app.domain.triggers import ScheduleTrigger

# Every Schedule Stepladder owns has an id starting with this; sync deletes only these.
SCHEDULE_ID_PREFIX = "stepladder:"
# The note a workflow pause leaves on its Schedules, so resuming the workflow unpauses exactly
# those (a Schedule an admin paused by itself stays paused).
WORKFLOW_PAUSE_NOTE = "paused by workflow pause"
WORKFLOW_ARCHIVE_NOTE = "paused for good: workflow archived"


def schedule_id(workflow_id: str, trigger_id: str) -> str:
    """The stable Temporal Schedule id of a trigger: `stepladder:<workflow_id>:<trigger_id>`."""
    return f"{SCHEDULE_ID_PREFIX}{workflow_id}:{trigger_id}"


def seconds_in_words(seconds: float) -> str:
    """A duration as people write it: "2 s", "90 s", "5 min", "1 h 30 min", "1 d"."""
    if seconds < 120:
        return f"{seconds:g} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    if hours < 24 or minutes:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    days, hours = divmod(hours, 24)
    return f"{days} d" + (f" {hours} h" if hours else "")


def schedule_in_words(trigger: ScheduleTrigger) -> str:
    """What the Schedule does in words, e.g. "every 2 s" or "cron 0 2 * * * (Europe/Paris)"."""
    parts = []
    if trigger.interval_seconds:
        parts.append(f"every {seconds_in_words(trigger.interval_seconds)}")
    parts.extend(f"cron {expression}" for expression in trigger.cron)
    return " and ".join(parts) + f" ({trigger.time_zone})"
