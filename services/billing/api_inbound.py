"""What comes back, over HTTP: inbound X12 (999, 277CA, 835), remittances, the denial work queue, ClaimResponse."""
from __future__ import annotations

import email.message
from pathlib import PurePath

from fastapi import APIRouter, Depends, Request, Response
from starlette.exceptions import HTTPException

from services.runtime.auth import Principal, require
from services.runtime.fhir_errors import FHIR_JSON, outcome
from services.runtime.responses import FhirResponse, binary, outcomes, problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import problem, uuid_or_404

from . import inbound, reports, store, store_inbound
from .domain.codes import explain
from .domain.fhir_response import build_claim_response
from .domain.x12read import RefusedFile
from .models_inbound import DenialRead, InboundRead, RefusalRead, RemittanceRead, RemittanceSummary, denial, \
    inbound_read, refusal_read, remittance_read, remittance_summary

router = APIRouter(tags=["inbound"], responses=problems(401, 403))
Billing = Depends(require("billing"))
KINDS = ("999", "277CA", "835")
TOO_LARGE = {413: {**problems(422)[422], "description": "The file is larger than BILLING_INBOUND_MAX_BYTES"}}
EDI = {"content": {"application/edi-x12": {"schema": {"type": "string", "format": "binary"}},
                   "text/plain": {"schema": {"type": "string"}}}, "required": True}


@router.post("/x12/inbound", status_code=201, summary="Upload a 999, 277CA or 835 (the raw X12 bytes)",
             description="The kind is read from ST01; an optional `Content-Disposition` header's `filename` is kept "
                         "with the file. 201 with what was applied; the same bytes again (SHA-256) "
                         "answer 200 with what the first upload applied and change nothing. A file that breaks its "
                         "guide, does not balance (835: CLP and SVC against CAS, BPR02 against CLP04 less PLB) or "
                         "answers no batch of ours (999) is 422 with `problems` naming each segment and reason; "
                         "nothing of it is applied, and the file is kept under `/x12/refusals` (its id in "
                         "`refusal_id`) to be applied again once the cause is fixed.",
             openapi_extra={"requestBody": EDI},
             responses={200: {"model": InboundRead, "description": "Sent before: what the first upload applied"},
                        **problems(400, 422), **TOO_LARGE})
async def upload(request: Request, response: Response, runtime: ServiceRuntime = Depends(get_runtime),
                 _who: Principal = Billing) -> InboundRead:
    limit = request.app.state.inbound_max_bytes
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            return problem(413, "File too large", f"at most {limit} bytes")
    if not raw:
        return problem(422, "Empty file", "the body holds no X12 interchange")
    return await _apply(request, response, runtime, bytes(raw), source="api",
                        filename=sent_filename(request.headers.get("content-disposition")))


def sent_filename(header: str | None) -> str | None:
    """The file's name from an optional `Content-Disposition: attachment; filename*=UTF-8''...` (or filename=)."""
    if not header:
        return None
    params = email.message.Message()
    params["content-disposition"] = header
    name = params.get_filename()  # decodes RFC 2231/5987 filename* too
    # Only the last path part, printable, within the column: a name is shown to billers, never trusted as a path.
    name = PurePath((name or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable())[:255]
    return name or None


async def _apply(request: Request, response: Response, runtime: ServiceRuntime, raw: bytes, *, source: str,
                 filename: str | None = None) -> InboundRead:
    """Apply the bytes; a refusal is kept for reprocessing and answered 422 with its reasons."""
    try:
        async with runtime.unit_of_work() as uow:
            received = await inbound.receive(uow, raw, source=source, filename=filename,
                                             structural=request.app.state.billing.pyx12)
    except RefusedFile as exc:
        refusal_id = await inbound.keep_refused(runtime.unit_of_work, raw, exc, source=source, filename=filename)
        return problem(422, "Inbound file refused", str(exc), problems=inbound.problem_list(exc),
                       refusal_id=refusal_id)
    if not received.created:
        response.status_code = 200
    return InboundRead(id=received.file_id, kind=received.kind, sha256=received.sha256, summary=received.summary,
                       duplicate=not received.created)


@router.get("/x12/refusals", summary="Refused inbound files with their reasons, newest first",
            responses=problems(400, 422),
            description="`pending=true` (the default) lists only those not applied since.")
async def list_refusals(pending: bool = True, runtime: ServiceRuntime = Depends(get_runtime),
                        _who: Principal = Billing) -> list[RefusalRead]:
    async with runtime.pool.acquire() as conn:
        return [refusal_read(r) for r in await store_inbound.list_refusals(conn, pending)]


@router.get("/x12/refusals/{refusal_id}/raw", summary="A refused file's bytes as received", response_class=Response,
            responses={200: binary("application/edi-x12"), **problems(400, 404)})
async def refusal_raw(refusal_id: str, runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Billing):
    row = await _refusal(runtime, refusal_id)
    return Response(bytes(row["raw"]), media_type="application/edi-x12")


async def _refusal(runtime: ServiceRuntime, refusal_id: str):
    """The kept refused file, or 404."""
    async with runtime.pool.acquire() as conn:
        row = await store_inbound.get_refusal(conn, uuid_or_404(refusal_id))
    if row is None:
        raise HTTPException(404, "no such refused file")
    return row


@router.post("/x12/refusals/{refusal_id}/retry", status_code=201, summary="Apply a refused file again",
             description="After the cause is fixed (e.g. the batch a 999 answers was imported): 201 with what was "
                         "applied, 200 if it had been applied since, 422 with the reasons if it is refused again.",
             responses={200: {"model": InboundRead, "description": "Applied before"}, **problems(400, 404, 422)})
async def retry_refusal(refusal_id: str, request: Request, response: Response,
                        runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Billing) -> InboundRead:
    row = await _refusal(runtime, refusal_id)
    return await _apply(request, response, runtime, bytes(row["raw"]), source=row["source"],
                        filename=row["filename"])


@router.get("/x12/inbound", summary="Inbound files, newest first", responses=problems(400, 422))
async def list_inbound(kind: str | None = None, runtime: ServiceRuntime = Depends(get_runtime),
                       _who: Principal = Billing) -> list[InboundRead]:
    if kind is not None and kind not in KINDS:
        raise HTTPException(422, f"kind: one of {', '.join(KINDS)}")
    async with runtime.pool.acquire() as conn:
        return [inbound_read(r) for r in await store_inbound.list_files(conn, kind)]


@router.get("/x12/inbound/{file_id}/raw", summary="An inbound file's bytes as received", response_class=Response,
            responses={200: binary("application/edi-x12"), **problems(400, 404)})
async def inbound_raw(file_id: str, runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Billing):
    async with runtime.pool.acquire() as conn:
        row = await store_inbound.get_file(conn, uuid_or_404(file_id))
    if row is None:
        raise HTTPException(404, "no such file")
    return Response(bytes(row["raw"]), media_type="application/edi-x12")


@router.get("/remittances", summary="835 remittances, newest first, with totals that reconcile to BPR02")
async def list_remittances(runtime: ServiceRuntime = Depends(get_runtime),
                           _who: Principal = Billing) -> list[RemittanceSummary]:
    async with runtime.pool.acquire() as conn:
        return [remittance_summary(r) for r in await store_inbound.list_remittances(conn)]


@router.get("/remittances/{remittance_id}", summary="One remittance: every claim posted, in words",
            responses=problems(400, 404))
async def get_remittance(remittance_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                         _who: Principal = Billing) -> RemittanceRead:
    async with runtime.pool.acquire() as conn:
        head, claims = await store_inbound.get_remittance(conn, uuid_or_404(remittance_id))
    if head is None:
        raise HTTPException(404, "no such remittance")
    return remittance_read(head, claims)


@router.get("/denials", summary="The work queue: claims denied (835) or rejected (999, 277CA), reasons in words",
            description="Oldest first. Each names what to do: a denied claim is corrected by a replacement "
                        "(POST /claims/{id}/replace with the edits), a rejected one by fixing the cause and approving "
                        "it again (POST /claims/{id}/approve), which puts it in the next batch.")
async def denials(runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Billing) -> list[DenialRead]:
    async with runtime.pool.acquire() as conn:
        return [denial(r, explain) for r in await store_inbound.work_queue(conn)]


@router.get("/claims/{claim_id}/claim-response", summary="The claim's latest 835 payment as a FHIR R4 ClaimResponse",
            responses={**problems(400), **outcomes(404)}, response_class=FhirResponse)
async def claim_response(claim_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                         _who: Principal = Billing) -> Response:
    try:
        claim_id = uuid_or_404(claim_id)
    except HTTPException:
        return outcome(404, "no such claim", "not-found")
    async with runtime.pool.acquire() as conn:
        row = await store.get_claim(conn, claim_id)
        posted = await store_inbound.remittance_detail(conn, row["remittance"]) if row is not None else None
    if row is None or posted is None:
        return outcome(404, "no remittance for this claim" if row is not None else "no such claim", "not-found")
    payment = {"date": posted["payment_date"].isoformat() if posted["payment_date"] else None,
               "trace_number": posted["trace_number"]}
    resource = build_claim_response({"id": str(row["id"]), "claim_number": row["claim_number"],
                                     "document": row["document"]},
                                    {**posted["detail"], "payer_name": posted["payer_name"]}, posted["received_at"],
                                    payment)
    return Response(resource.model_dump_json(exclude_none=True), media_type=FHIR_JSON)


@router.get("/reports/claims.csv", tags=["reports"], summary="The month's claims as CSV (date of service in the month)",
            description="month: YYYY-MM. One row per claim (originals, replacements and voids): number, status, "
                        "frequency, payer, plan, facility, visit, date of service, units, charge, paid, the payer's "
                        "claim number, the original's number, batch, its control number and 999 status. No member "
                        "ids or patient data. Cells a spreadsheet would run as formulas are prefixed with '.",
            response_class=Response, responses={200: binary("text/csv"), **problems(400, 422)})
async def claims_csv(month: str, runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Billing):
    try:
        first, after = reports.month_bounds(month)
    except ValueError:
        raise HTTPException(422, "month: YYYY-MM") from None
    async with runtime.pool.acquire() as conn:
        rows = await store.month_claims(conn, first, after)
    return Response(reports.claims_csv(rows), media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="claims-{first:%Y-%m}.csv"'})
