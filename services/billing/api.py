"""Billing department API: claims, approvals and holds, replacements and voids, 837P batches, FHIR Claim."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from services.runtime.auth import Principal, require
from services.runtime.fhir_errors import FHIR_JSON, outcome
from services.runtime.responses import FhirResponse, binary, outcomes, problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import problem, uuid_or_404

from . import corrections, service, store
from .corrections import Edits
from .domain.facility import ServiceFacility
from .intake import IntakeUnavailable
from .models import BatchRead, BatchSummary, ClaimRead, ClaimSummary
from .service import Conflict, Context
from .validate837 import InvalidClaimFile

router = APIRouter(tags=["claims"], responses=problems(401, 403))
Billing = Depends(require("billing"))
STATUSES = ("awaiting-visit", "held", "prepared", "approved", "exported", "rejected", "accepted", "paid", "denied",
            "reversed", "replaced", "voided")
BATCH_STATUSES = ("exported", "accepted", "accepted-with-errors", "partially-accepted", "rejected")
Diagnosis = Annotated[str, Field(pattern=r"^[A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?$")]


class HoldBody(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class BatchBody(BaseModel):
    payer: str = Field(min_length=1, max_length=64, description="rule set id (NJ-MEDICAID) or plan id (NJMCD)")
    facility: str | None = Field(None, min_length=1, max_length=64,
                                 description="only this facility's approved claims (a billing office per ED); "
                                             "all facilities when left out")


def _context(request: Request) -> Context:
    return request.app.state.billing


def _summary(row) -> dict:
    return {"id": str(row["id"]), "claim_number": row["claim_number"], "encounter_id": str(row["encounter_id"]),
            "facility": row["facility"], "visit_number": row["visit_number"], "status": row["status"],
            "frequency": row["frequency"], "payer": row["payer"], "plan_id": row["plan_id"],
            "service_date": row["service_date"].isoformat() if row["service_date"] else None,
            "units": row["units"], "charge": f"{row['charge']:.2f}",
            "batch_id": str(row["batch_id"]) if row["batch_id"] else None}


def summary(row) -> ClaimSummary:
    return ClaimSummary(**_summary(row))


def detail(row) -> ClaimRead:
    doc = row["document"] or {}
    return ClaimRead(**_summary(row), member_id=row["member_id"], diagnoses=doc.get("diagnoses", []),
                     rendering=doc.get("rendering"), lines=doc.get("lines", []), hold_reasons=row["hold_reasons"],
                     original_claim_id=str(row["original_claim_id"]) if row["original_claim_id"] else None,
                     original_claim_number=row["original_claim_number"],
                     payer_claim_number=row["payer_claim_number"], acknowledgement=row["acknowledgement"],
                     remittance=row["remittance"],
                     paid_amount=f"{row['paid_amount']:.2f}" if row["paid_amount"] is not None else None)


async def _load(runtime: ServiceRuntime, claim_id: str):
    async with runtime.pool.acquire() as conn:
        row = await store.get_claim(conn, uuid_or_404(claim_id))
    if row is None:
        raise HTTPException(404, "no such claim")
    return row


async def claim_row(claim_id: str, runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Billing):
    """Fetch or 404, for the routes that only read (the ones that write load the claim inside their unit of work)."""
    return await _load(runtime, claim_id)


@router.get("/claims", summary="Claims by status, facility or visit", responses=problems(400, 422))
async def list_claims(status: str | None = None, facility: str | None = None, visit_number: str | None = None,
                      runtime: ServiceRuntime = Depends(get_runtime),
                      _who: Principal = Billing) -> list[ClaimSummary]:
    if status is not None and status not in STATUSES:
        raise HTTPException(422, f"status: one of {', '.join(STATUSES)}")
    async with runtime.pool.acquire() as conn:
        rows = await store.list_claims(conn, status=status, facility=facility, visit_number=visit_number)
    return [summary(r) for r in rows]


@router.get("/claims/{claim_id}", summary="A claim with its lines and hold reasons", responses=problems(400, 404))
async def get_claim(row=Depends(claim_row)) -> ClaimRead:
    return detail(row)


async def _act(runtime: ServiceRuntime, claim_id: str, action) -> ClaimRead:
    claim_id = uuid_or_404(claim_id)
    try:
        async with runtime.unit_of_work() as uow:
            result = await action(uow, claim_id)
    except LookupError:
        raise HTTPException(404, "no such claim") from None
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    return detail(await _load(runtime, result or claim_id))


@router.post("/claims/{claim_id}/approve", summary="Approve a prepared (or manually held) claim",
             description="Approving an approved claim again (a retried request) answers 200 with the claim and "
                         "changes nothing.",
             responses=problems(400, 404, 409))
async def approve(claim_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                  _who: Principal = Billing) -> ClaimRead:
    return await _act(runtime, claim_id, service.approve)


@router.post("/claims/{claim_id}/hold", summary="Hold a claim with a reason",
             description="Holding a held claim again with a reason it is already held for by a biller (a retried "
                         "request) answers 200 with the claim, adds no second reason and emits no second ClaimHeld; "
                         "another reason is added to the hold.",
             responses=problems(400, 404, 409, 422))
async def hold(claim_id: str, body: HoldBody, runtime: ServiceRuntime = Depends(get_runtime),
               _who: Principal = Billing) -> ClaimRead:
    return await _act(runtime, claim_id, lambda uow, cid: service.hold(uow, cid, body.reason))


class ReplaceBody(BaseModel):
    """The biller's corrections; the replacement is priced again from them under the payer's rules."""

    minutes: int | None = Field(None, ge=1, le=1440, description="the session's documented minutes")
    diagnoses: list[Diagnosis] | None = Field(None, min_length=1, max_length=12,
                                              description="ICD-10-CM codes, the principal one first")


async def _derive(runtime: ServiceRuntime, claim_id: str, frequency: str, response: Response, book,
                  edits: Edits | None = None) -> ClaimRead:
    async def action(uow, cid: str) -> str:
        derived = await corrections.derive(uow, book, cid, frequency, edits)
        if not derived.created:
            response.status_code = 200
        return derived.claim_id
    return await _act(runtime, claim_id, action)


@router.post("/claims/{claim_id}/replace", status_code=201, summary="A replacement claim (frequency 7)",
             description="201 with a new claim (frequency 7) of a claim the payer has (exported, accepted, paid or "
                         "denied, with the payer's claim control number known, which REF*F8 quotes), priced again "
                         "from the body's edits (minutes, diagnoses); the original becomes replaced. An edit that "
                         "would be held is 409 naming the holds. "
                         "Replacing a replaced claim again (a retried request) answers 200 with the replacement made "
                         "before and creates nothing; any other status is 409.",
             responses={200: {"model": ClaimRead, "description": "Already replaced: the existing replacement"},
                        **problems(400, 404, 409)})
async def replace(claim_id: str, response: Response, request: Request, body: ReplaceBody | None = None,
                  runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Billing) -> ClaimRead:
    edits = Edits(body.minutes, body.diagnoses) if body else None
    return await _derive(runtime, claim_id, "7", response, _context(request).book, edits)


@router.post("/claims/{claim_id}/void", status_code=201, summary="A void claim (frequency 8)",
             description="201 with a new claim (frequency 8) copying an original the payer has (its claim control "
                         "number known), which becomes voided. "
                         "Voiding a voided claim again (a retried request) answers 200 with the void made before and "
                         "creates nothing; any other status is 409.",
             responses={200: {"model": ClaimRead, "description": "Already voided: the existing void"},
                        **problems(400, 404, 409)})
async def void(claim_id: str, response: Response, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
               _who: Principal = Billing) -> ClaimRead:
    return await _derive(runtime, claim_id, "8", response, _context(request).book)


@router.get("/claims/{claim_id}/fhir", summary="The claim as a FHIR R4 Claim",
            responses={**problems(400), **outcomes(404, 409)}, response_class=FhirResponse)
async def claim_fhir(claim_id: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                     _who: Principal = Billing) -> Response:
    try:
        row = await _load(runtime, claim_id)
    except HTTPException:
        return outcome(404, "no such claim", "not-found")
    try:
        claim = service.fhir_claim(_context(request), row)
    except service.Unpriced:
        return outcome(409, "the claim has no priced line yet (awaiting the visit's data)", "incomplete")
    return Response(claim.model_dump_json(exclude_none=True), media_type=FHIR_JSON)


@router.post("/batches", status_code=201, tags=["batches"], summary="Export the payer's approved claims as 837P",
             response_model=BatchRead, responses=problems(400, 409, 422, 503))
async def create_batch(body: BatchBody, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                       _who: Principal = Billing):
    ctx = _context(request)
    payer = ctx.book.payer_id(body.payer)
    if payer is None:
        raise HTTPException(422, "payer: not a known rule set id or plan id")
    try:
        result = await service.create_batch(runtime.pool, runtime.unit_of_work, ctx, payer,
                                            facility=body.facility)
    except Conflict as exc:
        raise HTTPException(409, str(exc)) from None
    except IntakeUnavailable:
        # Nothing was exported or held: the claims stay approved until intake answers again.
        return problem(503, "Intake unavailable", "the subscriber data could not be fetched from intake; retry later")
    except InvalidClaimFile as exc:
        # Nothing was exported: the claims stay approved while the cause is fixed.
        return problem(422, "Claim file failed validation", str(exc), problems=exc.problems)
    if result.batch_id is None:
        return problem(409, "No claim could be exported",
                       f"{result.held} approved claims held for {service.NO_DEMOGRAPHICS}", held=result.held)
    return BatchRead(id=result.batch_id, payer=payer, claim_count=result.claim_count, held=result.held)


@router.get("/batches/{batch_id}/837", tags=["batches"], summary="The batch's X12 837P 005010X222A1 file",
            response_class=Response, responses={200: binary("application/edi-x12"), **problems(400, 404)})
async def batch_837(batch_id: str, runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Billing):
    async with runtime.pool.acquire() as conn:
        row = await store.get_batch(conn, uuid_or_404(batch_id))
    if row is None:
        raise HTTPException(404, "no such batch")
    return Response(row["content"], media_type="application/edi-x12",
                    headers={"Content-Disposition": f'attachment; filename="{batch_id}.837"'})


def _batch(row) -> BatchSummary:
    return BatchSummary(id=str(row["id"]), payer=row["payer"], claim_count=row["claim_count"], status=row["status"],
                        interchange_control_number=f"{row['interchange_control_number']:09d}",
                        created_at=row["created_at"], acknowledgement=row["acknowledgement"],
                        claims_by_status=row["claims_by_status"])


@router.get("/batches", tags=["batches"], summary="The exported batches, newest first, with their 999 status",
            description="status: exported (no 999 yet), accepted, accepted-with-errors, partially-accepted, rejected.",
            responses=problems(400, 422))
async def list_batches(status: str | None = None, runtime: ServiceRuntime = Depends(get_runtime),
                       _who: Principal = Billing) -> list[BatchSummary]:
    if status is not None and status not in BATCH_STATUSES:
        raise HTTPException(422, f"status: one of {', '.join(BATCH_STATUSES)}")
    async with runtime.pool.acquire() as conn:
        return [_batch(r) for r in await store.list_batches(conn, status)]


@router.get("/batches/{batch_id}", tags=["batches"], summary="One batch and its 999 outcome",
            responses=problems(400, 404))
async def get_batch(batch_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                    _who: Principal = Billing) -> BatchSummary:
    async with runtime.pool.acquire() as conn:
        row = await store.batch_summary(conn, uuid_or_404(batch_id))
    if row is None:
        raise HTTPException(404, "no such batch")
    return _batch(row)



class FacilityBody(ServiceFacility):
    code: str = Field(min_length=1, max_length=64, description="the feed's facility code, as on the claims")


@router.post("/facilities", tags=["facilities"], summary="Register an ED's name, address and NPI (loop 2310C)",
             description="Claims rendered at a facility billing does not know are held at export "
                         "(no-service-facility) until it is registered. The code is the natural key: sending it again "
                         "replaces what was registered, and the same body again changes nothing.",
             responses=problems(400, 422))
async def put_facility(body: FacilityBody, runtime: ServiceRuntime = Depends(get_runtime),
                       _who: Principal = Billing) -> FacilityBody:
    async with runtime.unit_of_work() as uow:
        await store.put_facility(uow.conn, body.code, ServiceFacility(**body.model_dump(exclude={"code"})))
    return body


@router.get("/facilities", tags=["facilities"], summary="The registered service facilities")
async def list_facilities(runtime: ServiceRuntime = Depends(get_runtime),
                          _who: Principal = Billing) -> dict[str, ServiceFacility]:
    async with runtime.pool.acquire() as conn:
        rows = await store.list_facilities(conn)
    return {r["code"]: ServiceFacility(**{k: r[k] for k in ServiceFacility.model_fields}) for r in rows}
