"""Accounting of disclosures (42 CFR 2.24, 45 CFR 164.528): what left for whom about one patient, as JSON or as
IHE BALP-style FHIR AuditEvents for the patient's request."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel

from services.runtime.auth import Principal
from services.runtime.responses import FhirResponse, problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import Instant

from .audit import DCM
from .fhir_api import fhir_json
from .part2 import AuditedRoute, access, reader

# The accounting covers the three years before the request (42 CFR 2.24(b)); the trail itself is never pruned.
WINDOW = timedelta(days=3 * 365 + 1)
MAX_RECORDS = 5000
DISCLOSED = {"disclosure": ("ServiceRequest", "Task", "Consent"), "revocation": ("Consent",),
             "notification": ("Task",)}
SQL = """
SELECT a.seq, a.recorded_at, a.action, a.purpose, a.referral_id::text, a.destination, a.status_code
FROM audit_log a JOIN referrals r ON r.id = a.referral_id
WHERE a.action IN ('disclosure', 'revocation', 'notification') AND a.outcome = 'success'
  AND r.visit->'patient_ref'->>'system' = $1 AND r.visit->'patient_ref'->>'value' = $2
  AND a.recorded_at >= $3 AND a.recorded_at < $4
ORDER BY a.recorded_at DESC, a.seq DESC LIMIT $5
"""

# Naming a patient, the accounting is itself Part 2 information: each request is audited (action `accounting`).
router = APIRouter(route_class=AuditedRoute)
privacy_officer = reader("privacy", "supervisor", "admin")


class Disclosure(BaseModel):
    """One disclosure: when, to whom, why, what."""

    id: int
    disclosed_at: str
    kind: str              # disclosure (the referral), revocation (the news that the consent ended), notification
    recipient: str         # the facility code (a subscription notification: the subscriber)
    purpose: str | None
    resources: list[str]
    referral_id: str


class Accounting(BaseModel):
    patient: str
    since: str
    until: str
    disclosures: list[Disclosure]


def _patient(patient: str) -> tuple[str, str]:
    system, bar, value = patient.partition("|")
    if not (bar and system and value):
        raise HTTPException(422, "patient must be system|value, the identifier the hospital's feed sends")
    return system, value


async def _rows(pool: asyncpg.Pool, patient: str, since: datetime, until: datetime) -> list[asyncpg.Record]:
    system, value = _patient(patient)
    async with pool.acquire() as conn:
        return await conn.fetch(SQL, system, value, since, until, MAX_RECORDS)


def _window(runtime: ServiceRuntime, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    now = runtime.clock.now()
    return since or now - WINDOW, until or now


def _resources(row: asyncpg.Record) -> list[str]:
    return [f"{t}/{row['referral_id']}" for t in DISCLOSED[row["action"]]]


@router.get("/disclosures", name="accounting", tags=["audit"], summary="Accounting of a patient's disclosures",
            responses=problems(400, 401, 403, 422))
async def accounting(request: Request, patient: str = Query(..., description="system|value of the patient"),
                     since: Instant | None = None, until: Instant | None = None,
                     runtime: ServiceRuntime = Depends(get_runtime),
                     _who: Principal = Depends(privacy_officer)) -> Accounting:
    """Every disclosure about the patient in the window (by default the three years before now), newest first."""
    start, end = _window(runtime, since, until)
    rows = await _rows(runtime.pool, patient, start, end)
    access(request).resource_ids = tuple(sorted({r["referral_id"] for r in rows}))
    access(request).resource_type = "ServiceRequest" if rows else None
    return Accounting(patient=patient, since=start.isoformat(), until=end.isoformat(), disclosures=[
        Disclosure(id=r["seq"], disclosed_at=r["recorded_at"].isoformat(), kind=r["action"],
                   recipient=r["destination"], purpose=r["purpose"], resources=_resources(r),
                   referral_id=r["referral_id"]) for r in rows])


@router.get("/disclosures/export", name="accounting-export", tags=["audit"], response_class=FhirResponse,
            summary="The accounting as a FHIR Bundle of AuditEvents (IHE BALP), to hand to the patient",
            responses=problems(400, 401, 403, 422))
async def export(request: Request, patient: str = Query(...), since: Instant | None = None,
                 until: Instant | None = None, runtime: ServiceRuntime = Depends(get_runtime),
                 _who: Principal = Depends(privacy_officer)):
    start, end = _window(runtime, since, until)
    rows = await _rows(runtime.pool, patient, start, end)
    access(request).resource_ids = tuple(sorted({r["referral_id"] for r in rows}))
    access(request).resource_type = "ServiceRequest" if rows else None
    system, value = _patient(patient)
    bundle = {"resourceType": "Bundle", "type": "collection", "timestamp": runtime.clock.now().isoformat(),
              "entry": [{"fullUrl": f"urn:uuid:{_uuid(r['seq'])}", "resource": balp(r, system, value)}
                        for r in rows]}
    response = fhir_json(bundle)
    response.headers["Content-Disposition"] = 'attachment; filename="accounting-of-disclosures.json"'
    return response


def _uuid(seq: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:peerbridge:audit:{seq}"))


def balp(row: asyncpg.Record, system: str, value: str) -> dict:
    """One disclosure as an AuditEvent in the IHE Basic Audit Log Patterns style: DICOM Export with the RESTful
    transaction subtype, source and destination agents, the patient and the disclosed resources as entities."""
    agent_type = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
    # A push goes to a facility; a subscription notification to the subscriber (the token subject that subscribed).
    to = "urn:peerbridge:subject" if row["action"] == "notification" else "urn:peerbridge:facility"
    recipient = {"identifier": {"system": to, "value": row["destination"]}}
    event = {
        "resourceType": "AuditEvent",
        "type": {"system": DCM, "code": "110106", "display": "Export"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "transaction"}],
        "action": "R", "recorded": row["recorded_at"].isoformat(), "outcome": "0",
        "agent": [
            {"type": {"coding": [{"system": DCM, "code": "110153", "display": "Source Role ID"}]},
             "who": {"identifier": {"system": "urn:peerbridge:program", "value": "peer-recovery"},
                     "display": "PeerBridge referral service"}, "requestor": True},
            {"type": {"coding": [{"system": DCM, "code": "110152", "display": "Destination Role ID"}]},
             "who": recipient, "requestor": False},
            {"type": {"coding": [{"system": agent_type, "code": "IRCP", "display": "information recipient"}]},
             "who": recipient, "requestor": False}],
        "source": {"observer": {"display": "PeerBridge referral service"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4",
                             "display": "Application Server"}]},
        "entity": [{"what": {"identifier": {"system": system, "value": value}},
                    "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1"},
                    "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1"}}] + [
            {"what": {"reference": ref},
             "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"},
             "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "4"}}
            for ref in _resources(row)]}
    if row["purpose"]:
        event["purposeOfEvent"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                                "code": row["purpose"]}]}]
    return event
