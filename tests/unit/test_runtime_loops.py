"""The runtime's backoff policy and background loop: growth, cap, reset, wake-up, cancellation, failure accounting."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY

from services.runtime.failures import DatabaseUnavailable
from services.runtime.loops import Backoff, run_loop

pytestmark = pytest.mark.unit


class RecordingLog:
    """Stands in for a structlog logger: keeps (level, event, fields)."""

    def __init__(self):
        self.lines: list[tuple[str, str, dict]] = []

    def error(self, event: str, **fields) -> None:
        self.lines.append(("error", event, fields))

    def warning(self, event: str, **fields) -> None:
        self.lines.append(("warning", event, fields))


class Script:
    """A step that raises or returns, in turn, what it was given; a pause that records delays and stops the loop."""

    def __init__(self, *outcomes: Exception | None, pauses: int):
        self.outcomes, self.pauses, self.delays, self.calls = list(outcomes), pauses, [], 0

    async def step(self) -> None:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome

    async def pause(self, seconds: float, _wake) -> None:
        self.delays.append(seconds)
        if len(self.delays) == self.pauses:
            raise asyncio.CancelledError


async def run_script(script: Script, backoff: Backoff, *, name: str = "test", log=None, every: float = 5.0) -> None:
    with pytest.raises(asyncio.CancelledError):
        await run_loop(script.step, name=name, log=log or RecordingLog(), backoff=backoff, failed="test_failed",
                       outage="test_outage", every=every, pause=script.pause)


def infrastructure_failures(component: str, error_class: str) -> float:
    return REGISTRY.get_sample_value("peerbridge_infrastructure_failures_total",
                                     {"component": component, "error_class": error_class}) or 0.0


def test_the_delay_doubles_from_the_first_and_stops_at_the_cap():
    policy = Backoff(first=0.5, factor=2.0, cap=3.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_very_long_outage_waits_the_cap_rather_than_overflowing():
    assert Backoff(first=1.0, factor=2.0, cap=10.0).delay(5000) == 10.0


def test_a_factor_of_one_is_a_constant_delay():
    assert {Backoff(first=1.0, factor=1.0, cap=1.0).delay(n) for n in range(1, 50)} == {1.0}


def test_jitter_only_shortens_the_delay_and_by_at_most_its_share():
    policy = Backoff(first=4.0, factor=2.0, cap=4.0, jitter=0.25)
    assert policy.delay(3, rand=lambda: 0.0) == 4.0
    assert policy.delay(3, rand=lambda: 1.0) == 3.0
    assert all(3.0 <= policy.delay(3) <= 4.0 for _ in range(200))


async def test_failures_back_off_and_a_success_starts_the_backoff_over():
    boom = RuntimeError("bug")
    script = Script(boom, boom, boom, boom, None, boom, pauses=6)
    await run_script(script, Backoff(first=1.0, factor=2.0, cap=4.0), every=5.0)
    assert script.delays == [1.0, 2.0, 4.0, 4.0, 5.0, 1.0]


async def test_a_healthy_loop_runs_every_interval():
    script = Script(pauses=3)
    await run_script(script, Backoff(first=1.0), every=0.25)
    assert script.delays == [0.25, 0.25, 0.25] and script.calls == 3


async def test_an_outage_is_counted_as_the_infrastructures_and_logged_as_a_warning():
    name = f"loop_{uuid.uuid4().hex[:8]}"
    log = RecordingLog()
    outage = DatabaseUnavailable("no connection")
    outage.__cause__ = ConnectionRefusedError()
    await run_script(Script(outage, pauses=1), Backoff(first=1.0), name=name, log=log)
    assert infrastructure_failures(name, "ConnectionRefusedError") == 1
    assert log.lines == [("warning", "test_outage", {"error_class": "ConnectionRefusedError", "attempt": 1})]


async def test_a_loops_own_failure_is_an_error_and_not_counted_as_an_outage():
    name = f"loop_{uuid.uuid4().hex[:8]}"
    log = RecordingLog()
    await run_script(Script(ValueError("bad row"), pauses=1), Backoff(first=1.0), name=name, log=log)
    assert infrastructure_failures(name, "ValueError") == 0
    assert log.lines == [("error", "test_failed", {"error_class": "ValueError", "attempt": 1})]


async def test_a_wake_up_runs_the_step_again_before_the_interval_is_over():
    wake, ran = asyncio.Event(), asyncio.Queue()

    async def step() -> None:
        await ran.put(None)

    task = asyncio.create_task(run_loop(step, name="test", log=RecordingLog(), backoff=Backoff(first=1.0),
                                        failed="test_failed", every=3600, wake=wake))
    try:
        await asyncio.wait_for(ran.get(), timeout=5)
        wake.set()
        await asyncio.wait_for(ran.get(), timeout=5)  # not an hour
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_cancelling_stops_the_loop_while_it_waits_and_while_its_step_runs():
    calls, inside = [], asyncio.Event()

    async def step() -> None:
        calls.append(None)
        if len(calls) == 2:
            inside.set()
            await asyncio.Event().wait()  # a step that would never finish by itself

    task = asyncio.create_task(run_loop(step, name="test", log=RecordingLog(), backoff=Backoff(first=1.0),
                                        failed="test_failed", every=0.01))
    await asyncio.wait_for(inside.wait(), timeout=5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    await asyncio.sleep(0.05)
    assert len(calls) == 2

    waiting = asyncio.create_task(run_loop(step, name="test", log=RecordingLog(), backoff=Backoff(first=1.0),
                                           failed="test_failed", every=3600))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert waiting.cancelled() and len(calls) == 3
