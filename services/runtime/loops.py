"""One backoff policy and one background-loop helper, so every loop waits, retries and reports failures alike.

Policies (first delay, factor, cap; none jittered, so the numbers stay what they were unless said):
- outbox relay: every `relay_poll_seconds` (0.5 s) or at NOTIFY; failures Backoff(2 x poll, 2, 10 s), as before.
- supervise (a crashed consumer): Backoff(1 s, 1, 1 s), a constant 1 s as before; its step never returns while
  healthy, so there is no success to reset a growing delay on.
- pairing deadlines: every `deadline_poll_seconds` (1 s); failures Backoff(poll, 2, 10 s) (was: a constant poll).
- referral push: every `push_poll_seconds` (1 s); failures Backoff(poll, 2, 10 s) (was: a constant poll). A refused
  push is retried per row at Backoff(`push_backoff_seconds` 2 s, 2, `push_max_backoff_seconds` 600 s), as before.
- intake workers' watch: every 1 s; failures Backoff(1 s, 2, 10 s) (was: a failed spawn ended the watch for good).
- consumer retries: Backoff(`consumer_backoff_seconds` 0.2 s, 2, 10 s) for handler failures (as before, but now
  capped), outages (were twice that, capped at 10 s) and dead-letter sends (were a constant 1 s).
- start-up steps: Backoff(0.2 s, 2, 3 s) within 60 s, as before.
A failure whose chain holds an outage (failures.infrastructure_cause) is counted in
peerbridge_infrastructure_failures_total{component=<loop name>} and logged as a warning; any other is an error.
"""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from .failures import INFRASTRUCTURE_FAILURES, infrastructure_cause


@dataclass(frozen=True)
class Backoff:
    """Delay before retry n (from 1): first x factor^(n-1), capped; jitter takes up to that share off at random."""

    first: float
    factor: float = 2.0
    cap: float = 10.0
    jitter: float = 0.0

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        try:
            seconds = min(self.cap, self.first * self.factor ** max(attempt - 1, 0))
        except OverflowError:  # a long outage: the exponent outgrew a float long after the cap was reached
            seconds = self.cap
        # Jitter only shortens the delay, so the cap holds and replicas that failed together retry apart.
        return seconds * (1.0 - self.jitter * rand())


def report(exc: BaseException, *, name: str, log: Any, failed: str, outage: str | None = None, **ids) -> None:
    """Log a failure, and count it as the infrastructure's when an outage caused it."""
    cause = infrastructure_cause(exc)
    if cause is None:
        log.error(failed, error_class=type(exc).__name__, **ids)
    else:
        INFRASTRUCTURE_FAILURES.labels(name, type(cause).__name__).inc()
        log.warning(outage or failed, error_class=type(cause).__name__, **ids)


async def wait(seconds: float, wake: asyncio.Event | None = None) -> None:
    """Sleep for seconds, or less if wake is set."""
    if wake is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(wake.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


async def run_loop(step: Callable[[], Awaitable[object]], *, name: str, log: Any, backoff: Backoff,
                   failed: str, outage: str | None = None, every: float = 0.0, wake: asyncio.Event | None = None,
                   pause: Callable[[float, asyncio.Event | None], Awaitable[None]] = wait) -> None:
    """Run step until cancelled, every `every` seconds or at wake, backing off while it fails; a success resets."""
    failures = 0
    while True:
        # Cleared before the step, so a wake-up that arrives while it runs is not lost.
        if wake is not None:
            wake.clear()
        try:
            await step()
            failures = 0
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            failures += 1
            report(exc, name=name, log=log, failed=failed, outage=outage, attempt=failures)
        await pause(backoff.delay(failures) if failures else every, wake)

