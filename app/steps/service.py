"""Transitional: what app/temporal/recording.py imported from here before the split. Delete this
module once the engine takes `evaluate_after_outcome` (app.steps.promotion) as an injected hook
and reads FINAL_STEP_STATUSES from app.domain.statuses."""

from __future__ import annotations

from app.domain.statuses import FINAL_STEP_STATUSES
from app.steps.promotion import evaluate_after_outcome

FINAL_STATUSES = tuple(sorted(FINAL_STEP_STATUSES))

__all__ = ["FINAL_STATUSES", "evaluate_after_outcome"]
