"""Writes of the operation previews' summary lines (table step_previews)."""

from __future__ import annotations

from app.db.tables import StepPreview


class StepPreviews:
    """The preview summaries, keyed like step runs (`execution_id/step_id`)."""

    async def record(
        self, *, execution_id: str, workflow_id: str, step_id: str, summary: str
    ) -> None:
        """Store (or overwrite: a retried preview activity) the step run's preview summary."""
        await StepPreview.raw(
            "INSERT INTO step_previews (run_key, execution_id, workflow_id, step_id, summary, "
            "recorded_at) VALUES ({}, {}, {}, {}, {}, now()) "
            "ON CONFLICT (run_key) DO UPDATE SET summary = EXCLUDED.summary, recorded_at = now()",
            f"{execution_id}/{step_id}", execution_id, workflow_id, step_id, summary,
        )  # fmt: skip
