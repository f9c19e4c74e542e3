"""Calls to billing's API as the signed-in biller: JSON through Apis, and files (837P, CSV, inbound X12) as bytes."""
from __future__ import annotations

from urllib.parse import quote

import httpx
from fastapi import Request

from .apis import Answer, ApiUnavailable
from .pages import api_token
from .service import Session


def billing_token(request: Request, session: Session) -> str:
    """The token the billers' pages call billing with."""
    return api_token(request, session, "billing")


async def call(request: Request, session: Session, method: str, path: str, **kwargs) -> Answer:
    return await request.app.state.apis.call(method, "billing", path, billing_token(request, session), **kwargs)


async def raw(request: Request, session: Session, method: str, path: str, *, content: bytes | None = None,
              params=None, key: str | None = None, filename: str | None = None) -> httpx.Response:
    """A call whose body is a file rather than JSON (the 837P, the CSV; an uploaded X12 file)."""
    apis = request.app.state.apis
    headers = {"Authorization": f"Bearer {billing_token(request, session)}"}
    if content is not None:
        headers["Content-Type"] = "application/edi-x12"
    if key:
        headers["Idempotency-Key"] = key
    if filename:  # the biller's file name, kept with the file (RFC 6266 form, so any name survives the header)
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
    try:
        return await apis.client.request(method, apis.urls["billing"] + path, content=content, params=params,
                                         headers=headers)
    except httpx.HTTPError as exc:
        raise ApiUnavailable("billing") from exc
