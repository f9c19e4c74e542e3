"""Pairing's HTTP API: the roster, assignments and encounters."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field, field_validator

from services.runtime import topics
from services.runtime.auth import Principal, require
from services.runtime.npi import is_valid_npi
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import uuid_or_404 as _uuid

from . import store

router = APIRouter()


class Certification(BaseModel):
    kind: str
    number: str
    state: str | None = None
    expires_on: date


class SpecialistIn(BaseModel):
    name: str = Field(..., min_length=1)
    npi: str
    gender: str | None = None
    birth_year: int | None = Field(None, ge=1900, le=2100)
    languages: list[str] = ["en"]
    certifications: list[Certification] = []
    recovery_since: date | None = None
    lived_experience: list[str] = []
    pathways: list[str] = []
    cultural_background: list[str] = []
    facilities: list[str] = []
    telehealth: bool = False
    caseload_cap: int = Field(8, ge=0)
    status: Literal["active", "on-leave", "inactive"] = "active"

    @field_validator("npi")
    @classmethod
    def npi_check_digit(cls, value: str) -> str:
        if not is_valid_npi(value):
            raise ValueError("NPI must be 10 digits with a valid check digit")
        return value


class EncounterIn(BaseModel):
    assignment_id: str
    started_at: datetime
    ended_at: datetime
    modality: Literal["in-person", "telehealth-video", "telephone"]
    kind: Literal["individual", "group"] = "individual"
    note: str | None = None


ROSTER = require("admin", "supervisor")
PEER_OR_LEAD = require("peer", "supervisor", "admin")


@router.post("/specialists", status_code=201, tags=["roster"], summary="Add a peer specialist")
async def create_specialist(body: SpecialistIn, runtime: ServiceRuntime = Depends(get_runtime),
                            _who: Principal = Depends(ROSTER)) -> dict:
    async with runtime.pool.acquire() as conn:
        if await conn.fetchval("SELECT 1 FROM specialists WHERE npi = $1", body.npi):
            raise HTTPException(409, "a specialist with this NPI exists")
        specialist_id = await store.insert_specialist(conn, body.model_dump(mode="json"))
    return {"id": specialist_id}


@router.get("/specialists/{specialist_id}", tags=["roster"], summary="One peer specialist")
async def read_specialist(specialist_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                          _who: Principal = Depends(ROSTER)) -> dict:
    async with runtime.pool.acquire() as conn:
        row = await store.get_specialist(conn, _uuid(specialist_id))
    if row is None:
        raise HTTPException(404, "no such specialist")
    return dict(row["data"], id=str(row["id"]))


def _assignment_json(row) -> dict:
    return {"id": str(row["id"]), "specialist_id": str(row["specialist_id"]), "facility": row["facility"],
            "visit_number": row["visit_number"], "status": row["status"], "attempt": row["attempt"],
            "offered_at": row["offered_at"].isoformat(), "expires_at": row["expires_at"].isoformat(),
            "accepted_at": row["accepted_at"].isoformat() if row["accepted_at"] else None,
            "explanation": row["explanation"]}


@router.get("/assignments", tags=["assignments"], summary="Assignments by visit, or the caller's own")
async def list_assignments(facility: str | None = None, visit_number: str | None = None, mine: bool = False,
                           runtime: ServiceRuntime = Depends(get_runtime),
                           who: Principal = Depends(PEER_OR_LEAD)) -> list[dict]:
    only = who.specialist_id if (mine or not who.has("supervisor", "admin")) else None
    if not who.has("supervisor", "admin") and not only:
        raise HTTPException(403, "peer token is not bound to a specialist")
    async with runtime.pool.acquire() as conn:
        rows = await store.list_assignments(conn, facility=facility, visit_number=visit_number, specialist_id=only)
    return [_assignment_json(r) for r in rows]


async def _own_assignment(conn, assignment_id: str, who: Principal):
    row = await store.get_assignment(conn, _uuid(assignment_id))
    if row is None or (not who.has("supervisor", "admin") and str(row["specialist_id"]) != who.specialist_id):
        raise HTTPException(404, "no such assignment")
    return row


@router.post("/assignments/{assignment_id}/accept", tags=["assignments"], summary="Accept an offer")
async def accept(assignment_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                 who: Principal = Depends(PEER_OR_LEAD)) -> dict:
    async with runtime.unit_of_work() as uow:
        row = await _own_assignment(uow.conn, assignment_id, who)
        if row["status"] != "offered":
            raise HTTPException(409, f"assignment is {row['status']}")
        now = uow.clock.now()
        await store.set_assignment_status(uow.conn, row["id"], "accepted", accepted_at=now)
        specialist = await store.get_specialist(uow.conn, row["specialist_id"])
        await uow.emit(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted",
                       {"assignment_id": str(row["id"]), "facility": row["facility"],
                        "visit_number": row["visit_number"], "specialist_id": str(row["specialist_id"]),
                        "specialist_npi": specialist["npi"], "accepted_at": now.isoformat()},
                       facility=row["facility"], visit_number=row["visit_number"])
    return {"id": str(row["id"]), "status": "accepted"}


@router.post("/encounters", status_code=201, tags=["encounters"], summary="Record a peer encounter")
async def record_encounter(body: EncounterIn, runtime: ServiceRuntime = Depends(get_runtime),
                           who: Principal = Depends(PEER_OR_LEAD)) -> dict:
    if body.ended_at <= body.started_at:
        raise HTTPException(422, "ended_at must be after started_at")
    async with runtime.unit_of_work() as uow:
        row = await _own_assignment(uow.conn, body.assignment_id, who)
        if row["status"] not in ("accepted", "completed"):
            raise HTTPException(409, f"assignment is {row['status']}")
        encounter_id = await store.insert_encounter(uow.conn, str(row["id"]), body.model_dump())
        specialist = await store.get_specialist(uow.conn, row["specialist_id"])
        minutes = int((body.ended_at - body.started_at).total_seconds() // 60)
        await uow.emit(topics.PAIRING_ASSIGNMENT, "PeerEncounterCompleted",
                       {"encounter_id": encounter_id, "assignment_id": str(row["id"]), "facility": row["facility"],
                        "visit_number": row["visit_number"], "specialist_id": str(row["specialist_id"]),
                        "specialist_npi": specialist["npi"], "started_at": body.started_at.isoformat(),
                        "ended_at": body.ended_at.isoformat(), "minutes": minutes, "modality": body.modality,
                        "kind": body.kind, "credentials": [
                            {"kind": c["kind"], "state": c.get("state"), "expires_on": c["expires_on"]}
                            for c in specialist["data"].get("certifications", [])]},
                       facility=row["facility"], visit_number=row["visit_number"])
    return {"id": encounter_id}
