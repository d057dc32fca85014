"""The server-sent-events reader the tests share with the benchmarks (bench/sse.py)."""

from bench.sse import Event, events

__all__ = ["Event", "events"]
