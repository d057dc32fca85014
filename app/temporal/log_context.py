"""Activities log with their execution and step: a worker interceptor binding structlog context
from the activity's info and input."""

from __future__ import annotations

from typing import Any

import structlog
from temporalio import activity
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)


class ActivityLogContext(Interceptor):
    """Binds `execution_id` (the workflow id), `activity` and, when the input names one,
    `step_id` for every log line an activity writes."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindActivityContext(next)


class _BindActivityContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        context = {"execution_id": info.workflow_id, "activity": info.activity_type}
        step_id = getattr(input.args[0], "step_id", None) if input.args else None
        if isinstance(step_id, str) and step_id:
            context["step_id"] = step_id
        with structlog.contextvars.bound_contextvars(**context):
            return await self.next.execute_activity(input)
