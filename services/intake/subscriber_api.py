"""The subscriber's demographics for billing's 837P claims (loop 2010BA), every read recorded for the auditor."""
from __future__ import annotations

import hashlib

import structlog
from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime

from . import store
from .domain.subscriber import subscriber
from .models import SubscriberRead

router = APIRouter(tags=["billing"])
log = structlog.get_logger("intake.subscriber")
PURPOSE = "payment"


def visit_number_hash(visit_number: str) -> str:
    """What the audit table keeps instead of the visit number (an auditor hashes the number to look it up)."""
    return hashlib.sha256(visit_number.encode("utf-8")).hexdigest()


@router.get("/visits/{facility}/{visit_number}/subscriber",
            summary="The subscriber's name, birth date, gender and address (PHI; billing only)",
            response_model=SubscriberRead, responses=problems(400, 401, 403, 404))
async def get_subscriber(facility: str, visit_number: str, runtime: ServiceRuntime = Depends(get_runtime),
                         who: Principal = Depends(require("billing"))) -> JSONResponse:
    # The read and its audit record share a transaction: nothing is disclosed that is not recorded.
    async with runtime.pool.acquire() as conn, conn.transaction():
        known, data = await store.get_subscriber(conn, facility, visit_number)
        if not known:
            raise HTTPException(404, "no such visit")
        await store.record_disclosure(conn, at=runtime.clock.now(), subject=who.subject, role="billing",
                                      facility=facility, visit_number_hash=visit_number_hash(visit_number),
                                      purpose=PURPOSE)
    log.info("subscriber_disclosed", facility=facility, role="billing", outcome="ok")
    # A visit known only from a message without demographics (a bare Encounter) answers with nulls. A JSONResponse
    # for the no-store header: the body is sent as stored, so SubscriberRead documents it but does not rework it.
    return JSONResponse(data or subscriber(), headers={"Cache-Control": "no-store"})
