"""Referral's HTTP API (walking skeleton: referral status by visit)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from services.runtime.auth import Principal, require
from services.runtime.service import ServiceRuntime, get_runtime

from . import store

router = APIRouter()


@router.get("/referrals/{facility}/{visit_number}", tags=["referrals"], summary="A visit's referral status")
async def read_referral(facility: str, visit_number: str, runtime: ServiceRuntime = Depends(get_runtime),
                        _who: Principal = Depends(require("supervisor", "admin"))) -> dict:
    async with runtime.pool.acquire() as conn:
        row = await store.get_referral(conn, facility, visit_number)
    if row is None:
        raise HTTPException(404, "no referral for this visit")
    return {"id": str(row["id"]), "status": row["status"], "business_status": row["business_status"],
            "owner_specialist_id": str(row["owner_specialist_id"]) if row["owner_specialist_id"] else None}
