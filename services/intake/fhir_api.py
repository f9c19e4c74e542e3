"""FHIR R4 intake: an emergency Encounter, or a transaction/batch Bundle of Patient, Encounter and Condition."""
from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from pydantic import ValidationError

from services.contracts import Visit
from services.runtime.auth import Principal, require
from services.runtime.fhir_errors import FHIR_JSON, outcome
from services.runtime.responses import FhirResponse, fhir_body, outcomes
from services.runtime.service import ServiceRuntime, get_runtime

from . import store, visits
from .domain.fhir import FhirInputError, FhirVisit, bundle_parts, conditions_of, encounter_visit
from .metrics import MESSAGES

router = APIRouter(prefix="/fhir", tags=["fhir"], default_response_class=FhirResponse)
def _validation_path(resource: str, exc: ValidationError) -> str:
    """Where the model refused the input; the input itself is left out (it may be patient data)."""
    first = exc.errors()[0]
    return ".".join([resource, *(str(p) for p in first.get("loc", ()) if not str(p).startswith("function"))])


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def _read(request: Request, model, resource: str):
    raw = await request.body()
    try:
        doc = json.loads(raw)
    except ValueError:
        raise FhirInputError(resource, "the body is not JSON", "structure") from None
    if not isinstance(doc, dict) or doc.get("resourceType") != resource:
        raise FhirInputError(f"{resource}.resourceType", f"expected a {resource} resource", "structure")
    if _has_nul(doc):  # FHIR strings may not hold control characters, and PostgreSQL cannot store NUL
        raise FhirInputError(resource, "a string contains a NUL character (\\u0000)", "invalid")
    try:
        return raw, model.model_validate(doc)
    except ValidationError as exc:
        raise FhirInputError(_validation_path(resource, exc), "the element is not valid FHIR R4") from None
    except KeyError:  # fhir.resources looks a nested resource's model up by its resourceType
        raise FhirInputError(resource, "a contained or entry resource has an unknown resourceType") from None


async def _apply(book: visits.VisitBook, runtime: ServiceRuntime, fv: FhirVisit, message_id: str) -> Visit:
    decision = await visits.record_visit(book, fv.visit, rules=runtime.rules, complaints=fv.complaints,
                                         message_id=message_id)
    if fv.status == "closed":
        await visits.record_discharge(book, fv.visit, fv.ended_at or fv.visit.arrived_at)
    elif fv.status == "cancelled":
        await visits.record_cancel(book, fv.visit, fv.ended_at or fv.visit.arrived_at)
    if fv.subscriber is not None:
        book.keep_subscriber(fv.visit.facility, fv.visit.visit_number, fv.subscriber, source="fhir",
                             message_id=uuid.UUID(message_id), received_at=runtime.clock.now())
    return decision.record


async def _store(runtime: ServiceRuntime, conn, message_id: uuid.UUID, raw: bytes, kind: str, status: str,
                 error: dict | None = None, result: dict | None = None) -> None:
    await store.insert_message(conn, {"id": message_id, "received_at": runtime.clock.now(), "channel": "fhir",
                                      "message_type": kind, "status": status,
                                      "ack_code": "AA" if status == "accepted" else "AR", "error": error,
                                      "result": result or {}, "raw": raw})
    MESSAGES.labels("fhir", kind, "AA" if status == "accepted" else "AR").inc()


async def _reject(runtime: ServiceRuntime, request: Request, kind: str, exc: FhirInputError) -> JSONResponse:
    async with runtime.pool.acquire() as conn:
        await _store(runtime, conn, uuid.uuid4(), await request.body(), kind, "rejected",
                     {"code": exc.code, "location": exc.path, "reason": exc.reason})
    status = 422 if exc.code in ("invalid", "required", "not-supported") else 400
    return outcome(status, exc.reason, exc.code, expression=exc.path)


@router.get("/metadata", summary="CapabilityStatement")
async def metadata(request: Request) -> JSONResponse:
    # kind "instance" needs implementation (cpb-14), which also gives the software-or-implementation of cpb-2.
    return JSONResponse({"resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
                         "fhirVersion": "4.0.1", "format": ["json"],
                         "date": request.app.state.runtime.started_at.isoformat(),
                         "software": {"name": "PeerBridge intake"},
                         "implementation": {"description": "PeerBridge ED visit intake",
                                            "url": str(request.base_url).rstrip("/") + "/fhir"},
                         "rest": [{"mode": "server", "resource": [{"type": "Encounter", "interaction": [
                             {"code": "create"}]}], "interaction": [{"code": "transaction"}, {"code": "batch"}]}]},
                        media_type=FHIR_JSON)


@router.post("/Encounter", status_code=201, summary="An emergency Encounter (class EMER)",
             responses=outcomes(400, 401, 403, 422), openapi_extra=fhir_body("Encounter"))
async def post_encounter(request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                         _who: Principal = Depends(require("ehr"))):
    try:
        raw, encounter = await _read(request, Encounter, "Encounter")
        fv = encounter_visit(encounter)
    except FhirInputError as exc:
        return await _reject(runtime, request, "Encounter", exc)
    message_id = uuid.uuid4()
    async with visits.changes(runtime.pool, runtime.name, runtime.clock) as book:
        record = await _apply(book, runtime, fv, str(message_id))
        await _store(runtime, book.uow.conn, message_id, raw, "Encounter", "accepted",
                     result={"visit_number": fv.visit.visit_number})
    text = "visit recorded; a peer is indicated" if record.peer_indicated else "visit recorded"
    return outcome(201, text, "informational", severity="information")


@router.post("", summary="A transaction or batch Bundle of Patient, Encounter and Condition",
             responses=outcomes(400, 401, 403, 422), openapi_extra=fhir_body("Bundle"))
async def post_bundle(request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                      _who: Principal = Depends(require("ehr"))):
    try:
        raw, bundle = await _read(request, Bundle, "Bundle")
        encounters, patients, conditions = bundle_parts(bundle)
        urls = {id(e.resource): e.fullUrl for e in bundle.entry or []}
        found = []
        for enc in encounters:
            ref = enc.subject.reference if enc.subject else None
            patient = patients.get(ref) or (next(iter(patients.values())) if len(set(map(id, patients.values()))) == 1
                                            else None)
            found.append(encounter_visit(enc, patient, conditions_of(enc, urls.get(id(enc)), conditions)))
    except FhirInputError as exc:
        return await _reject(runtime, request, "Bundle", exc)
    message_id = uuid.uuid4()
    # Both kinds are applied atomically: a batch's entries all describe the same visit, so half of it is no use.
    async with visits.changes(runtime.pool, runtime.name, runtime.clock) as book:
        await book.load([(fv.visit.facility, fv.visit.visit_number) for fv in found])  # all locks in key order
        for fv in found:
            await _apply(book, runtime, fv, str(message_id))
        await _store(runtime, book.uow.conn, message_id, raw, "Bundle", "accepted",
                     result={"visit_numbers": [fv.visit.visit_number for fv in found]})
    entries = [{"response": {"status": "201 Created" if type(e.resource).__name__ == "Encounter" else "200 OK"}}
               for e in bundle.entry or []]
    return JSONResponse({"resourceType": "Bundle", "type": f"{bundle.type}-response", "entry": entries},
                        media_type=FHIR_JSON)
