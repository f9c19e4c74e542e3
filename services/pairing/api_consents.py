"""The consent's signature image, read by the recipients it was given to (the copy of the consent, 42 CFR 2.32)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Response

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import uuid_or_404

from . import store_assignments as assignments
from .domain.consent_signature import png_bytes

router = APIRouter(tags=["consents"], responses=problems(401, 403))
READERS = require("ehr", "supervisor", "admin", "privacy")
FACILITY_SYSTEM = "urn:peerbridge:facility"
PROGRAM_ONLY = frozenset({"peer-program-only", "program-only"})


def facility_named(row) -> bool:
    """Whether the consent discloses to its referring facility: named among the recipients, or, when it names
    none, a scope that is not the program's alone (referral's rule, domain/consent.covers)."""
    if row["recipients"] is not None:
        return any(r["system"] == FACILITY_SYSTEM and r["value"] == row["facility"] for r in row["recipients"])
    return row["scope"] not in PROGRAM_ONLY


@router.get("/consents/{consent_id}/signature", summary="The patient's signature on a consent (PNG)",
            description="For privacy officers, supervisors and admins; for a facility's own systems (ehr) only on a "
                        "granted consent that names the facility as a recipient. ConsentRecorded carries its SHA-1 "
                        "and size, and referral's FHIR Consent points here (sourceAttachment).",
            responses={200: {"content": {"image/png": {}}}, **problems(400, 404)})
async def signature(consent_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                    who: Principal = Depends(READERS)) -> Response:
    async with runtime.pool.acquire() as conn:
        row = await assignments.consent_signature(conn, uuid_or_404(consent_id))
    lead = who.has("supervisor", "admin", "privacy")
    # 404 for one the caller may not read: a consent's existence tells of an SUD referral.
    if row is None or not row["signature"] or not (lead or (
            row["facility"] in who.facilities and row["granted"] and facility_named(row))):
        raise HTTPException(404, "no signature to read")
    return Response(png_bytes(row["signature"]), media_type="image/png", headers={"Cache-Control": "no-store"})
