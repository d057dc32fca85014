"""The inbox's decided mask (app/domain/decided_mask.py), pure, on a fake clock: a step decided
through any web process leaves the inbox at once, comes back after the TTL if the records still
say it waits, and is forgotten once the records show it decided."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.domain.decided_mask import DecidedMask


@dataclass(frozen=True)
class Item:
    execution_id: str
    step_id: str


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


CRM = Item("onboarding-1", "create_crm_record")
OTHER = Item("onboarding-2", "create_crm_record")
SAME_EXECUTION_OTHER_STEP = Item("onboarding-1", "send_welcome")


def test_a_decided_step_is_hidden_from_the_list_and_only_that_step() -> None:
    mask = DecidedMask(ttl=10, clock=FakeClock())
    mask.hide(CRM.execution_id, CRM.step_id)
    assert mask.visible([CRM, OTHER, SAME_EXECUTION_OTHER_STEP]) == [
        OTHER,
        SAME_EXECUTION_OTHER_STEP,
    ]
    assert mask.hides(CRM.execution_id, CRM.step_id)
    assert not mask.hides(OTHER.execution_id, OTHER.step_id)


def test_a_step_still_waiting_in_the_records_comes_back_when_the_ttl_passes() -> None:
    clock = FakeClock()
    mask = DecidedMask(ttl=10, clock=clock)
    mask.hide(CRM.execution_id, CRM.step_id)
    clock.now += 9.9
    assert mask.read([CRM, OTHER], started_at=clock.now) == [OTHER]  # records not caught up yet
    assert mask.next_expiry() == pytest.approx(110.0)
    clock.now += 0.1
    assert mask.take_lapsed() == 1  # the shown list is stale: the hub reads again
    assert mask.read([CRM, OTHER], started_at=clock.now) == [CRM, OTHER]
    assert len(mask) == 0 and mask.next_expiry() is None
    assert mask.take_lapsed() == 0


def test_the_mask_ends_once_a_read_after_the_decision_no_longer_lists_the_step() -> None:
    clock = FakeClock()
    mask = DecidedMask(ttl=10, clock=clock)
    mask.hide(CRM.execution_id, CRM.step_id)
    clock.now += 0.2
    assert mask.read([OTHER], started_at=clock.now) == [OTHER]
    assert len(mask) == 0 and mask.take_lapsed() == 0  # forgotten, not lapsed: nothing to re-read
    # Waiting again later (another round of the same step) shows at once, not masked.
    assert mask.read([CRM, OTHER], started_at=clock.now) == [CRM, OTHER]


def test_a_read_that_began_before_the_decision_forgets_nothing() -> None:
    clock = FakeClock()
    mask = DecidedMask(ttl=10, clock=clock)
    started = clock.now
    clock.now += 0.05
    mask.hide(CRM.execution_id, CRM.step_id)
    # That read could not know of the step at all (e.g. its waiting record landed later).
    assert mask.read([OTHER], started_at=started) == [OTHER]
    assert mask.read([CRM, OTHER], started_at=started) == [OTHER]
    assert mask.hides(CRM.execution_id, CRM.step_id)


def test_a_repeated_notice_does_not_extend_the_ttl() -> None:
    clock = FakeClock()
    mask = DecidedMask(ttl=10, clock=clock)
    mask.hide(CRM.execution_id, CRM.step_id)
    clock.now += 5
    mask.hide(CRM.execution_id, CRM.step_id)  # the same notice through LISTEN
    clock.now += 5
    assert mask.visible([CRM]) == [CRM]


def test_a_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl"):
        DecidedMask(ttl=0, clock=FakeClock())
