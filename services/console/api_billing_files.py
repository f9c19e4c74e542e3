"""The billers' files: export a batch and download its 837P, the batches with their 999/277CA outcome, inbound
999/277CA/835 uploads and refused files tried again, remittances reconciled to the 835's BPR amount, and the month's
claims as CSV."""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from .api_billing import BILLER
from .billing_calls import call, raw
from .domain import billing_words
from .pages import check_csrf, form_of, render
from .service import Session

router = APIRouter(prefix="/billing", include_in_schema=False)
MAX_UPLOAD = 20 * 1024 * 1024  # bytes; billing has its own limit (413) below this
FILE_HEADERS = ("content-type", "content-disposition")


def today(request: Request):
    return request.app.state.clock.now().date()


async def batches_context(request: Request, session: Session) -> dict:
    batches = await call(request, session, "GET", "/batches")
    approved = await call(request, session, "GET", "/claims", params={"status": "approved"})
    payers = sorted({c["payer"] for c in (approved.body if approved.ok else []) if c.get("payer")})
    return {"batches": batches.body if batches.ok else [], "payers": payers, "bw": billing_words, "btab": "batches",
            "months": billing_words.months_back(today(request))}


@router.get("/batches")
async def batches_page(request: Request, session: Session = Depends(BILLER)):
    return render(request, "billing/batches.html", **await batches_context(request, session),
                  made=request.query_params.get("made"))


@router.post("/batches")
async def export(request: Request, session: Session = Depends(BILLER)):
    form = await form_of(request)
    check_csrf(session, form)
    answer = await call(request, session, "POST", "/batches", json={"payer": form.get("payer", "")},
                        key=form.get("key"))
    if answer.ok:
        return RedirectResponse(f"/billing/batches?made={answer.body['id']}", status_code=303)
    held = answer.body.get("held") if isinstance(answer.body, dict) else None
    message = f"No batch made: {answer.detail or answer.status}"
    if held:
        message += f" ({held} claims held; see the work queue)"
    return render(request, "billing/batches.html", status=answer.status if answer.status >= 400 else 422,
                  **await batches_context(request, session), error=message)


async def passed_on(request: Request, session: Session, path: str, params=None) -> Response:
    """A file from billing handed to the browser as is (type and file name kept)."""
    r = await raw(request, session, "GET", path, params=params)
    if r.status_code != 200:
        return render(request, "message.html", status=r.status_code if r.status_code >= 400 else 502,
                      title="Not available", message="Billing could not give this file.")
    return Response(r.content, headers={k: r.headers[k] for k in FILE_HEADERS if k in r.headers})


@router.get("/batches/{batch_id}/837")
async def download_837(batch_id: str, request: Request, session: Session = Depends(BILLER)):
    return await passed_on(request, session, f"/batches/{batch_id}/837")


@router.get("/reports/claims.csv")
async def claims_csv(request: Request, session: Session = Depends(BILLER)):
    month = request.query_params.get("month") or billing_words.month_of(today(request))
    return await passed_on(request, session, "/reports/claims.csv", params={"month": month})


async def inbound_context(request: Request, session: Session) -> dict:
    files = await call(request, session, "GET", "/x12/inbound")
    refused = await call(request, session, "GET", "/x12/refusals")
    return {"files": files.body if files.ok else [], "refused": refused.body if refused.ok else [],
            "bw": billing_words, "btab": "inbound"}


def answered(r) -> tuple[str | None, list, dict | None, int]:
    """Billing's answer to an upload or a retry as the page shows it: (error, problems, received, status)."""
    body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
    if r.status_code in (200, 201):
        return None, [], body, 200
    problems = body.get("problems") or []
    error = ("Refused; nothing of it was applied:" if problems else
             f"Refused: {body.get('detail') or body.get('title') or r.status_code}")
    return error, problems, None, r.status_code if r.status_code >= 400 else 502


@router.get("/inbound")
async def inbound_page(request: Request, session: Session = Depends(BILLER)):
    return render(request, "billing/inbound.html", **await inbound_context(request, session),
                  received=None)


@router.post("/inbound")
async def upload(request: Request, session: Session = Depends(BILLER)):
    form = await request.form(max_files=1, max_fields=10)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    check_csrf(session, fields)
    upload = form.get("file")
    content = await upload.read(MAX_UPLOAD + 1) if isinstance(upload, UploadFile) else b""
    error, problems, received, status = None, [], None, 200
    if not content:
        error, status = "Choose a 999, 277CA or 835 file to upload.", 422
    elif len(content) > MAX_UPLOAD:
        error, status = "The file is too large.", 413
    else:
        r = await raw(request, session, "POST", "/x12/inbound", content=content, key=fields.get("key"),
                      filename=getattr(upload, "filename", None))
        error, problems, received, status = answered(r)
    return render(request, "billing/inbound.html", status=status, **await inbound_context(request, session),
                  error=error, problems=problems, received=received, filename=getattr(upload, "filename", None))


@router.post("/inbound/refusals/{refusal_id}/retry")
async def retry_refused(refusal_id: str, request: Request, session: Session = Depends(BILLER)):
    fields = await form_of(request)
    check_csrf(session, fields)
    r = await raw(request, session, "POST", f"/x12/refusals/{quote(refusal_id, safe='')}/retry",
                  key=fields.get("key"))
    error, problems, received, status = answered(r)
    return render(request, "billing/inbound.html", status=status, **await inbound_context(request, session),
                  error=error, problems=problems, received=received, filename=fields.get("filename"))


@router.get("/remittances")
async def remittances_page(request: Request, session: Session = Depends(BILLER)):
    answer = await call(request, session, "GET", "/remittances")
    return render(request, "billing/remittances.html", remittances=answer.body if answer.ok else [],
                  bw=billing_words, btab="remittances")


@router.get("/remittances/{remittance_id}")
async def remittance_page(remittance_id: str, request: Request, session: Session = Depends(BILLER)):
    answer = await call(request, session, "GET", f"/remittances/{remittance_id}")
    if not answer.ok:
        return render(request, "message.html", status=404, title="Not found", message="There is no such remittance.")
    return render(request, "billing/remittance.html", r=answer.body, bw=billing_words, btab="remittances")
