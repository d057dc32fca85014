"""How pages show moments and statuses: the `when` filter (one `<time>` element for every time
shown) and the status words the icon macro (templates/_status.html) sets beside its SVG."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from markupsafe import Markup

from app.domain.statuses import StepStatus
from app.domain.text import duration_text, moment_text

# Every step status is also an execution status's spelling, so one table serves both.
STATUS_WORDS = {status.value: status.label.capitalize() for status in StepStatus}


def parse_moment(value: datetime | str | None) -> datetime | None:
    """A datetime from what records and payloads hold: a datetime or an ISO 8601 string
    ("" or None → None); naive values are read as UTC. Raises ValueError on a bad string."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(
    value: datetime | str | None,
    verb: str = "",
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Markup:
    """`<time datetime="ISO" title="2026-11-30 14:02:05 UTC">started 14:02 UTC · <span
    class="relative">3 min ago</span></time>` for a moment (`verb` first when given); an empty
    moment → "" (nothing to show)."""
    moment = parse_moment(value)
    if moment is None:
        return Markup("")
    short, full, relative = moment_text(moment, now())
    absolute = f"{verb} {short}" if verb else short
    # The relative part in its own span: static/times.js keeps it true while the page is open.
    return Markup(
        '<time datetime="{}" title="{}">{} · <span class="relative">{}</span></time>'
    ).format(moment.isoformat(), full, absolute, relative)


def since(
    value: datetime | str | None, *, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> str:
    """How long ago a moment was, as a duration ("12 min"); "" for no moment."""
    moment = parse_moment(value)
    return "" if moment is None else duration_text((now() - moment).total_seconds())


def status_words(status: str) -> str:
    """The status as pages write it ("Waiting approval"); unknown spellings as given."""
    return STATUS_WORDS.get(str(status), str(status).replace("_", " ").capitalize())
