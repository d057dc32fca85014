"""Timeline payloads to dataclasses: msgspec for plain JSON, temporalio's converter otherwise."""

from __future__ import annotations

import msgspec
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from app.temporal.contracts import Timeline

JSON_PLAIN = b"json/plain"


async def decode_timeline(payload: Payload, converter: DataConverter) -> Timeline:
    """The `timeline` query's answer as a `Timeline`.

    temporalio's generic JSON converter walks the dataclasses' type hints in Python: ~30-90 ms
    of CPU for a 50-step timeline, which caps how many changing executions a web process can
    follow. A plain-JSON payload (the default converter, no codec) is decoded by msgspec into
    the same dataclasses in under a millisecond; anything msgspec refuses (another encoding, a
    codec, a value of a type the hints do not allow) goes through `converter` as before, so the
    result is the same. Raises what `converter.decode` raises."""
    if converter.payload_codec is None and payload.metadata.get("encoding") == JSON_PLAIN:
        try:
            return msgspec.json.decode(payload.data, type=Timeline)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
    [timeline] = await converter.decode([payload], [Timeline])
    assert isinstance(timeline, Timeline)
    return timeline
