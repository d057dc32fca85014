"""Structured logs: structlog and the standard library's loggers (ours, uvicorn, temporalio,
piccolo) rendered through one ProcessorFormatter, as JSON lines or readable text.

Events the app logs, one line each (the `event` key): `execution.started`, `decision.made`,
`decision.refused`, `step.mode_changed`, and `notification.failed` (for the notifications of
issue 14: log it with `execution_id`, `step_id`, `channel` and `error` when a send fails).
Context bound with structlog's contextvars rides along: `request_id` and `user` (web
requests), `execution_id`, `step_id` (services, activities), `trace_id`/`span_id` (tracing on).
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from opentelemetry import trace
from structlog.typing import EventDict, Processor, WrappedLogger

LOG_FORMATS = ("auto", "json", "text")

# Libraries whose INFO lines are noise in our logs (per-poll and per-query chatter).
QUIET_LOGGERS = ("temporalio", "piccolo")


def add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """The current span's trace and span ids, so a log line leads to its trace (tracing on)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


# What every line gets, whether it comes from structlog or from a standard-library logger.
SHARED_PROCESSORS: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.ExtraAdder(),
    add_trace_ids,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def resolve_format(log_format: str, stream: TextIO) -> str:
    """`auto` is text on a terminal, JSON otherwise (a container, a file, a pipe)."""
    if log_format != "auto":
        return log_format
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def renderer(log_format: str) -> list[Processor]:
    if log_format == "json":
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    return [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]


def configure_logging(level: str, log_format: str = "auto", stream: TextIO | None = None) -> None:
    """Route structlog and every standard-library logger to one handler on `stream` (stderr),
    rendered as `log_format` (auto, json or text), at `level`; replaces earlier handlers."""
    stream = stream or sys.stderr
    chosen = resolve_format(log_format, stream)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger made before this call (at import) must follow it.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=SHARED_PROCESSORS,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *renderer(chosen),
            ],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn's own loggers propagate to the root handler (it is started with log_config=None).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def get_logger(name: str, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger named `name` (its standard-library logger's name and level)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial)
    return logger
