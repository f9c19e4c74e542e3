"""Operations on the message store: list by status and time, one message's metadata, its raw body."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from services.runtime.auth import Principal, require
from services.runtime.responses import binary, problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import Instant, uuid_or_404

from . import store
from .models import MessageRead

router = APIRouter(tags=["messages"], responses=problems(400, 401, 403))
Status = Literal["accepted", "ignored", "error", "rejected"]


def _meta(row) -> MessageRead:
    return MessageRead(
        id=str(row["id"]), received_at=row["received_at"].isoformat(), channel=row["channel"],
        sending_app=row["sending_app"], sending_facility=row["sending_facility"], control_id=row["control_id"],
        message_type=row["message_type"], version=row["version"], status=row["status"], ack_code=row["ack_code"],
        error=row["error"], result=row["result"], replay_of=str(row["replay_of"]) if row["replay_of"] else None,
        duplicates=row["duplicates"], control_id_reused=row["control_id_reused"])


@router.get("/messages", summary="Stored messages (metadata only), newest first", responses=problems(422))
async def list_messages(status: Status | None = None, since: Instant | None = None, until: Instant | None = None,
                        control_id_reused: bool | None = None, control_id: str | None = Query(None, max_length=199),
                        limit: int = Query(100, ge=1, le=1000),
                        runtime: ServiceRuntime = Depends(get_runtime),
                        _who: Principal = Depends(require("admin"))) -> list[MessageRead]:
    async with runtime.pool.acquire() as conn:
        rows = await store.list_messages(conn, status=status, since=since, until=until, limit=limit,
                                         control_id_reused=control_id_reused, control_id=control_id)
    return [_meta(r) for r in rows]


async def stored_message(message_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                         _who: Principal = Depends(require("admin"))):
    """Fetch or 404: a stored message's metadata row (its raw body is read only by the raw route)."""
    async with runtime.pool.acquire() as conn:
        row = await store.get_message(conn, uuid_or_404(message_id))
    if row is None:
        raise HTTPException(404, "no such message")
    return row


@router.get("/messages/{message_id}", summary="One stored message's metadata", responses=problems(404))
async def get_message(row=Depends(stored_message)) -> MessageRead:
    return _meta(row)


@router.get("/messages/{message_id}/raw", summary="One stored message's raw bytes (contains PHI; admin only)",
            response_class=Response, responses={200: binary("application/octet-stream"), **problems(404)})
async def get_raw(message_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                  _who: Principal = Depends(require("admin"))) -> Response:
    async with runtime.pool.acquire() as conn:
        row = await store.get_message(conn, uuid_or_404(message_id), raw=True)
    if row is None:
        raise HTTPException(404, "no such message")
    return Response(bytes(row["raw"]), media_type="application/octet-stream",
                    headers={"Cache-Control": "no-store"})
