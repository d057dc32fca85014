"""A small server-sent-events reader for benchmarks and tests (httpx streaming responses)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx


@dataclass
class Event:
    event: str
    data: str
    id: str = ""
    comments: list[str] = field(default_factory=list)

    def attribute(self, element_id: str, name: str) -> str:
        """An attribute of the element with `id="element_id"` in the event's HTML."""
        match = re.search(rf'<[^>]*\bid="{re.escape(element_id)}"[^>]*>', self.data)
        if match is None:
            return ""
        found = re.search(rf'\b{re.escape(name)}="([^"]*)"', match.group(0))
        return found.group(1) if found else ""


async def events(response: httpx.Response) -> AsyncIterator[Event]:
    """The events of an open `text/event-stream` response, until the server closes it.
    Blocks without data (keep-alive pings) are skipped; multi-line data is joined with newlines;
    comment lines sent with an event are kept on it."""
    name, event_id = "message", ""
    data: list[str] = []
    comments: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Event(name, "\n".join(data), event_id, comments)
            name, data, comments = "message", [], []
            continue
        if line.startswith(":"):
            comments.append(line[1:].strip())
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
