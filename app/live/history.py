"""Temporal's history long-poll: learn when an execution's state changed, without a timer.

`HistoryChanges.follow(execution_id, since)` long-polls the execution's event history
(`GetWorkflowExecutionHistory` with `wait_new_event`, what `WorkflowHandle.fetch_history_events(
wait_new_event=True)` sends, called here without the SDK's own retry loop so an outage is seen at
once) and yields once per response holding a `WorkflowTaskCompleted` (the workflow code ran: its
`timeline` may have moved) or a close event. Temporal holds each request until an event is
written (or about 20 s, then answers empty): an idle execution costs one open request, no query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client

# Events after which the workflow's state (what the `timeline` query answers) may differ.
CHANGE_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    }
)

# Longer than the server's own long-poll hold (history.longPollExpirationInterval, 20 s).
LONG_POLL_DEADLINE = timedelta(seconds=70)


def last_change(events: list[HistoryEvent]) -> float:
    """When the last state change among `events` was written (epoch seconds), 0.0 if none."""
    times = [e.event_time.ToMicroseconds() / 1e6 for e in events if e.event_type in CHANGE_EVENTS]
    return max(times, default=0.0)


class HistoryChanges:
    """Follows executions' histories on one Temporal client (`Client.workflow_service`)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.requests = 0
        """Long-poll requests sent (each answers one batch of new events, or empty after ~20 s)."""

    async def follow(self, execution_id: str) -> AsyncIterator[float]:
        """Per long-poll answer, when its last state change was written (epoch seconds by the
        server's clock; 0.0: none), until the execution closes (its close event's answer comes
        last). The first answers hold the history so far. Raises temporalio's `RPCError`
        (NOT_FOUND for an unknown execution; UNAVAILABLE while Temporal is down)."""
        token = b""
        while True:
            self.requests += 1
            response = await self._client.workflow_service.get_workflow_execution_history(
                GetWorkflowExecutionHistoryRequest(
                    namespace=self._client.namespace,
                    execution=WorkflowExecution(workflow_id=execution_id),
                    next_page_token=token,
                    wait_new_event=True,
                    skip_archival=True,
                ),
                retry=False,
                timeout=LONG_POLL_DEADLINE,
            )
            events = list(response.history.events)
            yield last_change(events)
            token = response.next_page_token
            if not token:  # the execution closed: its history is complete
                return
