"""The inbox's "decided" mask: steps a web process was told were just decided, hidden from its
inbox until the records show them gone or a time-to-live passes. Pure: the clock is passed in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar


class InboxEntry(Protocol):
    """What the mask needs of an inbox item: which step of which execution it is."""

    @property
    def execution_id(self) -> str: ...

    @property
    def step_id(self) -> str: ...


Item = TypeVar("Item", bound=InboxEntry)


@dataclass(frozen=True)
class Hidden:
    """One masked step: hidden since `since`, until `until` at the latest (clock seconds)."""

    since: float
    until: float


class DecidedMask:
    """Steps (execution id, step id) whose decision Temporal accepted (a web process's `decided`
    notice) while the worker's records may still say they wait. `ttl` (seconds) bounds how long
    one is hidden: after it, whatever the records say shows again — so a notice that was wrong
    never hides a waiting step for good. An entry also ends as soon as a read started after it
    no longer lists the step (the records caught up). `clock()`: monotonic seconds."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl!r}")
        self.ttl = ttl
        self._clock = clock
        self._hidden: dict[tuple[str, str], Hidden] = {}
        self._lapsed = 0

    def __len__(self) -> int:
        self._expire()
        return len(self._hidden)

    def hide(self, execution_id: str, step_id: str) -> None:
        """Hide the step for `ttl` seconds from now (a repeated notice keeps the first time)."""
        now = self._clock()
        key = (execution_id, step_id)
        if key not in self._hidden or self._hidden[key].until <= now:
            self._hidden[key] = Hidden(since=now, until=now + self.ttl)

    def hides(self, execution_id: str, step_id: str) -> bool:
        """Whether the step is hidden now."""
        self._expire()
        return (execution_id, step_id) in self._hidden

    def visible(self, items: Iterable[Item]) -> list[Item]:
        """`items` without the hidden steps (a list already read: forgets nothing)."""
        self._expire()
        return [i for i in items if (i.execution_id, i.step_id) not in self._hidden]

    def read(self, items: Iterable[Item], started_at: float) -> list[Item]:
        """A fresh read of the records, started at `started_at` (clock seconds): the hidden
        steps are left out, and steps hidden before the read began that it no longer lists are
        forgotten (their records show the decision)."""
        self._expire()
        listed = list(items)
        present = {(i.execution_id, i.step_id) for i in listed}
        for key, hidden in list(self._hidden.items()):
            if key not in present and hidden.since <= started_at:
                del self._hidden[key]
        return [i for i in listed if (i.execution_id, i.step_id) not in self._hidden]

    def next_expiry(self) -> float | None:
        """When the soonest entry expires (clock seconds), None when nothing is hidden."""
        self._expire()
        return min((h.until for h in self._hidden.values()), default=None)

    def take_lapsed(self) -> int:
        """How many entries ran out their `ttl` (rather than being forgotten by a read) since
        last asked: the list shown without them is stale until read again."""
        self._expire()
        lapsed, self._lapsed = self._lapsed, 0
        return lapsed

    def _expire(self) -> None:
        now = self._clock()
        for key in [k for k, h in self._hidden.items() if h.until <= now]:
            del self._hidden[key]
            self._lapsed += 1
