"""What people type, made comparable: durations in words, text normalised, blank text found.

Pure functions, used by the approval rules (a reason made only of invisible characters is
no reason) and by every message that states a duration.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

# Unicode categories that print nothing: controls (Cc), format characters such as the
# zero-width space and joiners (Cf), separators (Zs, Zl, Zp). Source: the Unicode Character
# Database's General_Category values (https://www.unicode.org/reports/tr44/#General_Category_Values).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def normalised(text: str) -> str:
    """`text` in Unicode NFC with surrounding whitespace removed: the form compared and stored,
    so "é" typed as one code point or as e + combining accent is the same reason or phrase."""
    return unicodedata.normalize("NFC", text).strip()


def is_blank(text: str) -> bool:
    """True when `text` shows nothing: empty, or only whitespace, control characters and
    invisible format characters (zero-width space U+200B, word joiner U+2060, BOM U+FEFF...)."""
    return all(unicodedata.category(char) in _INVISIBLE_CATEGORIES for char in text)


_UNITS = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))


def duration_text(seconds: float) -> str:
    """A duration as people write it, two units at most: 10 → "10 s", 100 → "1 min 40 s",
    1800 → "30 min", 7500 → "2 h 5 min", 90000 → "1 d 1 h". Fractions of a second are rounded;
    0 (or less) → "0 s"."""
    remaining = max(0, round(seconds))
    if remaining == 0:
        return "0 s"
    parts: list[str] = []
    for unit, size in _UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count} {unit}")
        elif parts:
            break  # "2 h 5 s" would mislead: stop at the first empty unit after the largest
        if len(parts) == 2:
            break
    return " ".join(parts)


def elapsed_text(milliseconds: int) -> str:
    """How long something took: under a second in milliseconds ("399 ms"), else as
    `duration_text` writes it ("1 min 5 s")."""
    if milliseconds < 1000:
        return f"{max(0, milliseconds)} ms"
    return duration_text(milliseconds / 1000)


def relative_text(seconds: float) -> str:
    """A moment relative to now, `seconds` = moment − now: −180 → "3 min ago", 1080 →
    "in 18 min"; within a second either way → "just now"."""
    if abs(seconds) < 1:
        return "just now"
    return f"in {duration_text(seconds)}" if seconds > 0 else f"{duration_text(-seconds)} ago"


def moment_text(moment: datetime, now: datetime) -> tuple[str, str, str]:
    """How pages show a moment (aware datetimes, any zone): (absolute in UTC, the full
    absolute for a tooltip, relative to `now`). The absolute is "14:02 UTC" the same UTC day
    as `now`, else "2026-11-28 14:02 UTC"; the tooltip is "2026-11-30 14:02:05 UTC"."""
    utc = moment.astimezone(UTC)
    same_day = utc.date() == now.astimezone(UTC).date()
    short = utc.strftime("%H:%M UTC" if same_day else "%Y-%m-%d %H:%M UTC")
    return (
        short,
        utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
        relative_text((moment - now).total_seconds()),
    )


def cursor_time(text: str) -> datetime:
    """A page cursor's time: ISO 8601 with its zone, e.g. "2026-11-30T14:02:05.123456+00:00".

    A "+" pasted unencoded into a query string arrives as a space (form decoding), and an ISO
    time written by the app never holds one, so a space is read back as "+". Raises ValueError
    naming the text when it is not such a time, or has no zone.
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment
