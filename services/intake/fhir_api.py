"""FHIR R4 intake: an emergency Encounter, a peer-consult ServiceRequest, or a transaction/batch Bundle of them."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.servicerequest import ServiceRequest
from pydantic import ValidationError

from services.runtime.auth import Principal, require
from services.runtime.fhir_errors import FHIR_JSON, outcome
from services.runtime.responses import FhirResponse, fhir_body, outcomes
from services.runtime.service import ServiceRuntime, get_runtime

from . import service
from .domain.fhir import FhirInputError, encounter_visit
from .domain.fhir_requests import by_identifier, peer_request, read_bundle
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


async def _reject(runtime: ServiceRuntime, request: Request, kind: str, exc: FhirInputError) -> JSONResponse:
    await service.reject_fhir(runtime, await request.body(), kind, exc)
    MESSAGES.labels("fhir", kind, "AR").inc()
    status = 422 if exc.code in ("invalid", "required", "not-supported", "not-found") else 400
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
                         "rest": [{"mode": "server", "resource": [
                             {"type": "Encounter", "interaction": [{"code": "create"}]},
                             {"type": "ServiceRequest", "interaction": [{"code": "create"}]}],
                             "interaction": [{"code": "transaction"}, {"code": "batch"}]}]},
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
    [record] = await service.accept_fhir(runtime, raw, "Encounter", [fv])
    MESSAGES.labels("fhir", "Encounter", "AA").inc()
    text = "visit recorded; a peer is indicated" if record.peer_indicated else "visit recorded"
    return outcome(201, text, "informational", severity="information")


@router.post("/ServiceRequest", status_code=201, summary="A ServiceRequest for a peer consult",
             responses=outcomes(400, 401, 403, 422), openapi_extra=fhir_body("ServiceRequest"))
async def post_service_request(request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                               _who: Principal = Depends(require("ehr"))):
    try:
        raw, sr = await _read(request, ServiceRequest, "ServiceRequest")
        asked = peer_request(sr, runtime.rules)
        requests = [(*by_identifier(asked), asked.indication, "ServiceRequest.encounter")] if asked.indication else []
        await service.accept_fhir(runtime, raw, "ServiceRequest", [], requests)
    except FhirInputError as exc:
        return await _reject(runtime, request, "ServiceRequest", exc)
    except service.UnknownVisit as exc:
        return await _reject(runtime, request, "ServiceRequest", _unknown(exc))
    MESSAGES.labels("fhir", "ServiceRequest", "AA").inc()
    text = "a peer is indicated for the visit" if requests else "the request is not an active order: nothing changed"
    return outcome(201, text, "informational", severity="information")


def _unknown(exc: service.UnknownVisit) -> FhirInputError:
    return FhirInputError(exc.where, "intake knows no such visit (send its Encounter first)", "not-found")


@router.post("", summary="A transaction or batch Bundle of Patient, Encounter, Condition, Coverage, Organization and "
                         "ServiceRequest", responses=outcomes(400, 401, 403, 422), openapi_extra=fhir_body("Bundle"))
async def post_bundle(request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                      _who: Principal = Depends(require("ehr"))):
    try:
        raw, bundle = await _read(request, Bundle, "Bundle")
        found, requests = read_bundle(bundle, runtime.rules)
        await service.accept_fhir(runtime, raw, "Bundle", found, requests)
    except FhirInputError as exc:
        return await _reject(runtime, request, "Bundle", exc)
    except service.UnknownVisit as exc:
        return await _reject(runtime, request, "Bundle", _unknown(exc))
    MESSAGES.labels("fhir", "Bundle", "AA").inc()
    entries = [{"response": {"status": "201 Created" if type(e.resource).__name__ == "Encounter" else "200 OK"}}
               for e in bundle.entry or []]
    return JSONResponse({"resourceType": "Bundle", "type": f"{bundle.type}-response", "entry": entries},
                        media_type=FHIR_JSON)
