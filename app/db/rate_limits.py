"""Data access for rate-limit counters: one atomic upsert per start, shared by every process.

Why PostgreSQL and not Litestar's RateLimitMiddleware: its stores are memory (one process),
file or redis, and it reads a count and then writes it back (get-then-set), which two web
processes can interleave and both admit the last allowed request. Here one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` increments and reads in one statement, so the
count is exact however many processes share the database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.tables import RateLimitCounter


async def count_hit(key: str, window_start: int, window_seconds: int) -> int:
    """Add one hit for `key` in the fixed window starting at `window_start` (unix seconds,
    `window_seconds` long) and answer the window's hits including this one. A new window
    prunes the rows of windows that ended."""
    ends = datetime.fromtimestamp(window_start + window_seconds, UTC)
    rows = await RateLimitCounter.raw(
        "INSERT INTO rate_limit_counters (bucket, hits, window_ends) VALUES ({}, 1, {})"
        " ON CONFLICT (bucket) DO UPDATE SET hits = rate_limit_counters.hits + 1"
        " RETURNING hits",
        f"{key}@{window_start}", ends,
    )  # fmt: skip
    hits = int(rows[0]["hits"])
    if hits == 1:  # the first hit of a window: a good moment to forget ended ones
        await prune(datetime.now(UTC) - timedelta(seconds=1))
    return hits


async def prune(before: datetime) -> None:
    """Delete counters whose window ended before `before`."""
    await RateLimitCounter.raw("DELETE FROM rate_limit_counters WHERE window_ends < {}", before)
