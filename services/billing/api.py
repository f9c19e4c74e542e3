"""Billing department API (walking skeleton: list claims)."""
from __future__ import annotations

from fastapi import APIRouter, Depends

from services.runtime.auth import Principal, require
from services.runtime.service import ServiceRuntime, get_runtime

from . import store

router = APIRouter()


@router.get("/claims", tags=["claims"], summary="Claims by status, facility or visit")
async def list_claims(status: str | None = None, facility: str | None = None, visit_number: str | None = None,
                      runtime: ServiceRuntime = Depends(get_runtime),
                      _who: Principal = Depends(require("billing"))) -> list[dict]:
    async with runtime.pool.acquire() as conn:
        rows = await store.list_claims(conn, status=status, facility=facility, visit_number=visit_number)
    return [{"id": str(r["id"]), "encounter_id": str(r["encounter_id"]), "facility": r["facility"],
             "visit_number": r["visit_number"], "status": r["status"], "payer": r["payer"]} for r in rows]
