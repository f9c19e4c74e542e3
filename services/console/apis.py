"""The other services' HTTP APIs, called with the signed-in user's token (the same APIs integrators use)."""
from __future__ import annotations

from dataclasses import dataclass

import httpx


class ApiUnavailable(Exception):
    """The service did not answer (down, timed out): the page says so instead of failing."""


@dataclass
class Answer:
    status: int
    body: object

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def detail(self) -> str:
        """The problem's detail (problem+json), for a message on the page."""
        return self.body.get("detail", "") if isinstance(self.body, dict) else ""


class Apis:
    """One pooled HTTP client for pairing, referral and billing."""

    def __init__(self, urls: dict[str, str], timeout: float, transport: httpx.AsyncBaseTransport | None = None):
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.client = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def call(self, method: str, service: str, path: str, token: str, *, json=None, params=None,
                   key: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key  # the form's key: a retried tap is answered, never done twice
        try:
            r = await self.client.request(method, self.urls[service] + path, json=json, params=params,
                                          headers=headers)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(service) from exc
        try:
            body = r.json()
        except ValueError:
            body = None
        return Answer(r.status_code, body)

    async def close(self) -> None:
        await self.client.aclose()
