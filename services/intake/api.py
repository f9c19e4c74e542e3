"""Intake's HTTP API: ED visits as JSON, clinician requests, and visit look-ups for the peer program."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from services.contracts import CdcRaceCode, Visit
from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import AwareInstant

from . import service, store
from .domain.indications import normalise_icd10
from .domain.subscriber import subscriber
from .models import VisitAnswer, VisitRead

router = APIRouter(responses=problems(401, 403))


class PatientRef(BaseModel):
    system: str = Field(..., min_length=1)
    value: str = Field(..., min_length=1)


class Payer(BaseModel):
    plan_id: str | None = None
    member_id: str | None = None


class PatientName(BaseModel):
    family: str | None = Field(None, max_length=100)
    given: str | None = Field(None, max_length=100)
    middle: str | None = Field(None, max_length=100)


class Address(BaseModel):
    line1: str | None = Field(None, max_length=100)
    line2: str | None = Field(None, max_length=100)
    city: str | None = Field(None, max_length=60)
    state: str | None = Field(None, max_length=30)
    postal_code: str | None = Field(None, max_length=15)


class VisitIn(BaseModel):
    """A minimal ED visit as JSON (HL7 v2 and FHIR arrive through their own endpoints)."""

    facility: str = Field(..., min_length=1, max_length=64)
    visit_number: str = Field(..., min_length=1, max_length=64)
    arrived_at: AwareInstant
    location: str | None = None
    bed: str | None = None
    language: str | None = None
    gender: str | None = Field(None, pattern="^(male|female|other|unknown)$")
    age_years: int | None = Field(None, ge=0, le=150)
    race: list[CdcRaceCode] | None = Field(None, max_length=20, description="CDC Race & Ethnicity codes")
    ethnicity: list[CdcRaceCode] | None = Field(None, max_length=20, description="CDC Race & Ethnicity codes")
    diagnoses: list[str] = Field([], max_length=50)
    chief_complaint: str | None = None
    payer: Payer | None = None
    patient_ref: PatientRef | None = None
    # The subscriber's demographics for billing's claims: stored in intake only, never put in events.
    patient_name: PatientName | None = None
    birth_date: date | None = None
    address: Address | None = None


def _answer(facility: str, visit_number: str, record: Visit) -> VisitAnswer:
    return VisitAnswer(facility=facility, visit_number=visit_number, peer_indicated=record.peer_indicated,
                       indications=[i.model_dump(exclude_none=True) for i in record.indications])


def _visit(body: VisitIn) -> Visit:
    """The visit a JSON body describes; HTTPException 422 for a diagnosis that is not an ICD-10-CM code."""
    diagnoses = [normalise_icd10(c) for c in body.diagnoses]
    if None in diagnoses:
        raise HTTPException(422, f"diagnoses[{diagnoses.index(None)}] is not an ICD-10-CM code")
    return Visit(facility=body.facility, visit_number=body.visit_number, arrived_at=body.arrived_at,
                 location=body.location, bed=body.bed, language=body.language, gender=body.gender,
                 age_years=body.age_years, race=list(dict.fromkeys(body.race)) if body.race else None,
                 ethnicity=list(dict.fromkeys(body.ethnicity)) if body.ethnicity else None,
                 diagnoses=diagnoses, indications=[], peer_indicated=False,
                 payer=body.payer.model_dump() if body.payer else None,
                 patient_ref=body.patient_ref.model_dump() if body.patient_ref else None,
                 trigger="JSON")


def _subscriber(body: VisitIn) -> dict | None:
    """The subscriber's demographics for billing, when the body carries any."""
    if not (body.patient_name or body.birth_date or body.address):
        return None
    name = body.patient_name or PatientName()
    return subscriber(name.family, name.given, name.middle, body.birth_date, body.gender,
                      body.address.model_dump() if body.address else None)


@router.post("/visits", status_code=202, tags=["visits"], summary="Register or update an ED visit (JSON)",
             responses=problems(400, 422))
async def post_visit(body: VisitIn, runtime: ServiceRuntime = Depends(get_runtime),
                     _who: Principal = Depends(require("ehr", "admin"))) -> VisitAnswer:
    record = await service.register_json(runtime, _visit(body), complaints=[body.chief_complaint or ""],
                                         subscriber=_subscriber(body))
    return _answer(body.facility, body.visit_number, record)


@router.post("/visits/{facility}/{visit_number}/peer-request", tags=["visits"],
             summary="The ED team asks for a peer for this visit", responses=problems(400, 404))
async def request_peer(facility: str, visit_number: str, runtime: ServiceRuntime = Depends(get_runtime),
                       _who: Principal = Depends(require("ehr", "supervisor", "admin"))) -> VisitAnswer:
    try:
        record = await service.ask_for_peer(runtime, facility, visit_number)
    except service.UnknownVisit:
        raise HTTPException(404, "no such visit") from None
    return _answer(facility, visit_number, record)


async def stored_visit(facility: str, visit_number: str, runtime: ServiceRuntime = Depends(get_runtime),
                       _who: Principal = Depends(require("admin", "supervisor"))):
    """Fetch or 404: the visit's row as stored."""
    async with runtime.pool.acquire() as conn:
        row = await store.get_visit(conn, facility, visit_number)
    if row is None:
        raise HTTPException(404, "no such visit")
    return row


@router.get("/visits/{facility}/{visit_number}", tags=["visits"], summary="A visit and why it needs a peer",
            responses=problems(400, 404))
async def get_visit(facility: str, visit_number: str, row=Depends(stored_visit)) -> VisitRead:
    data = row["data"]
    return VisitRead(facility=facility, visit_number=visit_number, status=row["status"],
                     peer_indicated=row["peer_indicated"], indications=row["indications"],
                     arrived_at=data.get("arrived_at"), diagnoses=data.get("diagnoses", []),
                     crisis=data.get("crisis", False), crisis_rules=data.get("crisis_rules"), payer=data.get("payer"),
                     message_id=data.get("message_id"), updated_at=row["updated_at"].isoformat())
