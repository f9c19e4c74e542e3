"""Billing's client of intake's subscriber lookup (GET /visits/{facility}/{visit_number}/subscriber)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import structlog

from .domain.subscriber import Subscriber, from_intake

log = structlog.get_logger("billing")
Visit = tuple[str, str]  # (facility, visit_number)


class IntakeUnavailable(Exception):
    """Intake did not answer usefully (down, timed out, refused our token, or failed)."""


@dataclass(frozen=True)
class IntakeClient:
    """Fetches subscribers with bounded concurrency; the transport is injectable for tests."""

    base_url: str
    token: Callable[[], str]
    timeout_seconds: float = 5.0
    concurrency: int = 8
    transport: httpx.AsyncBaseTransport | None = None

    async def subscribers(self, visits: Iterable[Visit]) -> dict[Visit, Subscriber | list[str]]:
        """Each visit's subscriber, or the names of its missing elements; IntakeUnavailable if intake fails."""
        visits = list(dict.fromkeys(visits))
        gate = asyncio.Semaphore(self.concurrency)
        headers = {"Authorization": f"Bearer {self.token()}"}
        async with httpx.AsyncClient(base_url=self.base_url, headers=headers, transport=self.transport,
                                     timeout=httpx.Timeout(self.timeout_seconds)) as client:

            async def one(visit: Visit) -> Subscriber | list[str] | IntakeUnavailable:
                path = f"/visits/{quote(visit[0], safe='')}/{quote(visit[1], safe='')}/subscriber"
                async with gate:
                    try:
                        response = await client.get(path)
                    except httpx.HTTPError as exc:
                        log.warning("intake_unreachable", error_class=type(exc).__name__)
                        return IntakeUnavailable(f"intake unreachable ({type(exc).__name__})")
                if response.status_code == 404:
                    return from_intake(None)
                if response.status_code != 200:
                    log.warning("intake_failed", status_code=response.status_code)
                    return IntakeUnavailable(f"intake answered {response.status_code}")
                try:
                    return from_intake(response.json())
                except ValueError:
                    return IntakeUnavailable("intake answered with something other than JSON")

            # Every request finishes (each has a timeout) before the client closes; then the first failure wins.
            found = await asyncio.gather(*(one(v) for v in visits))
        for result in found:
            if isinstance(result, IntakeUnavailable):
                raise result
        return dict(zip(visits, found))
