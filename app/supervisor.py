"""Process supervision for `stepladder dev`: stop signals turned into one clean shutdown, and the
worker and web children restarted with a back-off when they die.

The children run in sessions of their own (a Ctrl-C in the terminal reaches only the parent),
so no signal reaches them unless the parent passes it on: SIGINT, SIGTERM and SIGHUP all raise
`StopRequested` in the main thread, and the caller's clean-up stops every child."""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("stepladder.supervisor")

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(BaseException):
    """A stop signal arrived (a BaseException, like KeyboardInterrupt: nothing swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise StopRequested(signum)


def _note_stop(signum: int, _frame: FrameType | None) -> None:
    log.info("%s received while stopping; still stopping", signal.Signals(signum).name)


def install_stop_handlers() -> None:
    """SIGINT, SIGTERM and SIGHUP raise StopRequested from now on. Installed explicitly: a
    process started in the background inherits SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler. Children started afterwards get the default dispositions back."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stop)


@contextlib.contextmanager
def stopping() -> Iterator[None]:
    """While cleaning up, a further stop signal is noted, not raised (it would cut the
    clean-up short and leave processes running)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _note_stop)
    yield


@dataclass
class Child:
    """One supervised command and its current process."""

    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    next_delay: float = 0.0
    restart_at: float | None = None

    def spawn(self, now: float) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
        self.started_at = now
        self.restart_at = None


@dataclass
class Supervisor:
    """Starts children and keeps them running: a child that exits is started again after a
    delay that doubles from `first_delay` up to `max_delay`, back to `first_delay` once the
    child had stayed up `stable_after` seconds."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    stable_after: float = 30.0
    clock: Callable[[], float] = time.monotonic
    children: dict[str, Child] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env, next_delay=self.first_delay)
        child.spawn(self.clock())
        self.children[name] = child
        return child

    def pid(self, name: str) -> int | None:
        process = self.children[name].process
        return process.pid if process is not None else None

    def check(self) -> None:
        """Notice exits and schedule restarts; start the children whose delay has passed."""
        now = self.clock()
        for child in self.children.values():
            if child.restart_at is None and child.process is not None:
                code = child.process.poll()
                if code is None:
                    continue
                if now - child.started_at >= self.stable_after:
                    child.next_delay = self.first_delay
                delay = child.next_delay
                child.next_delay = min(delay * 2, self.max_delay)
                child.restart_at = now + delay
                log.warning("%s exited with %s; restarting in %gs", child.name, code, delay)
            if child.restart_at is not None and now >= child.restart_at:
                child.spawn(now)
                log.info("%s restarted (pid %d)", child.name, child.process.pid)  # type: ignore[union-attr]

    def run_forever(self, poll: float = 0.2) -> None:
        """Supervise until a signal handler raises (StopRequested, KeyboardInterrupt)."""
        while True:
            self.check()
            time.sleep(poll)

    def stop(self, timeout: float) -> None:
        """SIGTERM to every running child, then SIGKILL to those still up after `timeout`."""
        running = [
            c.process for c in self.children.values() if c.process and c.process.poll() is None
        ]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = self.clock() + timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - self.clock()))
            except subprocess.TimeoutExpired:
                log.warning("pid %d did not stop within %gs; killing it", process.pid, timeout)
                process.kill()
                process.wait()
