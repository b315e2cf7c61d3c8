"""Admission control: a bounded number of runs at once, a bounded queue with a deadline.

A request that cannot get a slot is refused before anything is stored (no run record, no
checkpoint), so shedding never loses accepted work; the client gets 503 and Retry-After.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from agent.metrics import QUEUE_DEPTH, QUEUE_WAIT, RUNS_IN_FLIGHT, SHED

# A run typically takes a few seconds; this seeds the Retry-After estimate until runs finish.
_INITIAL_RUN_S = 2.0


class OverloadedError(Exception):
    """No run slot within the deadline, or the queue is full."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass
class Slot:
    """A held run slot; ``release`` is idempotent so every exit path may call it."""

    admission: Admission
    released: bool = False

    def release(self, run_seconds: float | None = None) -> None:
        """Give the slot back and feed the run's duration into the Retry-After estimate."""
        if not self.released:
            self.released = True
            self.admission.release(run_seconds)


class Admission:
    """Per-process gate in front of graph runs."""

    def __init__(self, max_running: int, max_queued: int, timeout_s: float) -> None:
        self.max_running = max_running
        self.max_queued = max_queued
        self.timeout_s = timeout_s
        self._slots = asyncio.Semaphore(max_running)
        self._waiting = 0
        self._running = 0
        self._avg_run_s = _INITIAL_RUN_S

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return self._waiting

    @property
    def running(self) -> int:
        """Slots held."""
        return self._running

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the queue ahead drained at the current pace."""
        rounds = (self._waiting + 1) / self.max_running
        return max(1, min(60, math.ceil(rounds * self._avg_run_s)))

    async def admit(self) -> Slot:
        """Wait (bounded) for a slot; ``OverloadedError`` when full or past the deadline."""
        if self._running >= self.max_running and self._waiting >= self.max_queued:
            SHED.labels(reason="queue_full").inc()
            raise OverloadedError("queue_full", self.retry_after())
        started = time.monotonic()
        self._set_waiting(+1)
        try:
            await asyncio.wait_for(self._slots.acquire(), self.timeout_s)
        except TimeoutError:
            SHED.labels(reason="queue_timeout").inc()
            raise OverloadedError("queue_timeout", self.retry_after()) from None
        finally:
            self._set_waiting(-1)
        QUEUE_WAIT.observe(time.monotonic() - started)
        self._running += 1
        RUNS_IN_FLIGHT.inc()
        return Slot(self)

    def release(self, run_seconds: float | None) -> None:
        """Called by ``Slot.release``."""
        self._running -= 1
        RUNS_IN_FLIGHT.dec()
        if run_seconds is not None:
            self._avg_run_s = 0.8 * self._avg_run_s + 0.2 * run_seconds
        self._slots.release()

    def _set_waiting(self, delta: int) -> None:
        self._waiting += delta
        QUEUE_DEPTH.inc(delta)
