"""Intake's HTTP API: ED visits from EHRs, and visit look-ups for the peer program."""
from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from services.runtime import topics
from services.runtime.auth import Principal, require
from services.runtime.service import ServiceRuntime, get_runtime

from . import store
from .domain.indications import evaluate, normalise_icd10
from .domain.visits import decide_visit

router = APIRouter()


class PatientRef(BaseModel):
    system: str = Field(..., min_length=1)
    value: str = Field(..., min_length=1)


class Payer(BaseModel):
    plan_id: str | None = None
    member_id: str | None = None


class VisitIn(BaseModel):
    """A minimal ED visit as JSON (HL7 v2 and FHIR arrive through their own endpoints)."""

    facility: str = Field(..., min_length=1, max_length=64)
    visit_number: str = Field(..., min_length=1, max_length=64)
    arrived_at: datetime
    location: str | None = None
    bed: str | None = None
    language: str | None = None
    gender: str | None = Field(None, pattern="^(male|female|other|unknown)$")
    age_years: int | None = Field(None, ge=0, le=150)
    diagnoses: list[str] = []
    chief_complaint: str | None = None
    payer: Payer | None = None
    patient_ref: PatientRef | None = None


@router.post("/visits", status_code=202, tags=["visits"], summary="Register or update an ED visit (JSON)")
async def post_visit(body: VisitIn, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                     _who: Principal = Depends(require("ehr", "admin"))) -> dict:
    diagnoses = [normalise_icd10(c) for c in body.diagnoses]
    indications = evaluate(runtime.rules, diagnoses, [body.chief_complaint or ""])
    visit = {
        "facility": body.facility, "visit_number": body.visit_number,
        "arrived_at": body.arrived_at.isoformat(), "location": body.location, "bed": body.bed,
        "language": body.language, "gender": body.gender, "age_years": body.age_years,
        "diagnoses": diagnoses, "indications": indications, "peer_indicated": bool(indications),
        "payer": body.payer.model_dump() if body.payer else {"plan_id": None, "member_id": None},
        "trigger": "JSON",
    }
    if body.patient_ref:
        visit["patient_ref"] = body.patient_ref.model_dump()
    async with runtime.unit_of_work() as uow:
        previous = await store.get_visit(uow.conn, body.facility, body.visit_number)
        decision = decide_visit(dict(previous["data"]) if previous else None, visit)
        await store.upsert_visit(uow.conn, body.facility, body.visit_number, status="registered",
                                 peer_indicated=decision.record["peer_indicated"],
                                 indications=decision.record["indications"], data=decision.record)
        for name, data in decision.events:
            await uow.emit(topics.INTAKE_VISIT, name, data, facility=body.facility, visit_number=body.visit_number)
    return {"facility": body.facility, "visit_number": body.visit_number,
            "peer_indicated": decision.record["peer_indicated"], "indications": decision.record["indications"]}


@router.get("/visits/{facility}/{visit_number}", tags=["visits"], summary="A visit and why it needs a peer")
async def get_visit(facility: str, visit_number: str, runtime: ServiceRuntime = Depends(get_runtime),
                    _who: Principal = Depends(require("admin", "supervisor"))) -> dict:
    async with runtime.pool.acquire() as conn:
        row = await store.get_visit(conn, facility, visit_number)
    if row is None:
        raise HTTPException(404, "no such visit")
    return {"facility": facility, "visit_number": visit_number, "status": row["status"],
            "peer_indicated": row["peer_indicated"], "indications": row["indications"],
            "updated_at": row["updated_at"].isoformat()}
