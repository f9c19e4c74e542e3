"""Calls to pairing and notify as the signed-in supervisor (or admin): a `supervisor` token per request."""
from __future__ import annotations

from fastapi import Request

from .apis import Answer
from .pages import api_token
from .service import Session


async def call(request: Request, session: Session, method: str, service: str, path: str, **kwargs) -> Answer:
    token = api_token(request, session, "supervisor")
    return await request.app.state.apis.call(method, service, path, token, **kwargs)


async def read(request: Request, session: Session, service: str, path: str, default=None, **params):
    """A GET's body, or `default` when the service refused or did not have it (the page says so)."""
    answer = await call(request, session, "GET", service, path, params={k: v for k, v in params.items() if v})
    return answer.body if answer.ok else default
