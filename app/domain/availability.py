"""A dependency (PostgreSQL or Temporal) that did not answer in time: the one error type for it."""

from __future__ import annotations

from typing import Literal

Service = Literal["temporal", "postgresql"]


class ServiceUnavailable(RuntimeError):
    """`service` did not answer (unreachable, or past its deadline); `reason` says how. The web
    layer answers it as 503 with Retry-After, naming the service."""

    def __init__(self, service: Service, reason: str) -> None:
        super().__init__(f"{service} is not answering: {reason}")
        self.service: Service = service
        self.reason = reason


def first_line(exc: BaseException) -> str:
    """An exception in one line, for a reason shown to people."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
