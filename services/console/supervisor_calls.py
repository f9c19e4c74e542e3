"""Calls to pairing and notify as the signed-in supervisor (or admin): a `supervisor` token per request."""
from __future__ import annotations

import httpx
from fastapi import Request

from .apis import Answer, ApiUnavailable
from .pages import api_token
from .service import Session


async def call(request: Request, session: Session, method: str, service: str, path: str, **kwargs) -> Answer:
    token = api_token(request, session, "supervisor")
    return await request.app.state.apis.call(method, service, path, token, **kwargs)


async def read(request: Request, session: Session, service: str, path: str, default=None, **params):
    """A GET's body, or `default` when the service refused or did not have it (the page says so)."""
    answer = await call(request, session, "GET", service, path, params={k: v for k, v in params.items() if v})
    return answer.body if answer.ok else default


async def raw_get(request: Request, session: Session, service: str, path: str, params: dict) -> httpx.Response:
    """A GET whose answer is a file (pairing's outcomes CSV), passed through as bytes."""
    apis = request.app.state.apis
    headers = {"Authorization": f"Bearer {api_token(request, session, 'supervisor')}"}
    try:
        return await apis.client.get(apis.urls[service] + path, params=params, headers=headers)
    except httpx.HTTPError as exc:
        raise ApiUnavailable(service) from exc
