"""The billers' work queue: claims ready, held (why, and the fix), denied or rejected (why, in words); a claim's page
with approve, hold, edit-and-resubmit (a replacement) and void."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from .billing_calls import call
from .domain import billing_words
from .pages import check_csrf, form_of, render, role
from .service import Session

router = APIRouter(prefix="/billing", include_in_schema=False)
BILLER = role("billing")
# Rows per section, oldest first, so the page stays under 100 kB (about 0.9 kB a ready row with its two forms); held
# claims are each read in full (one call each). The headings say how many there are.
ROWS_SHOWN = 40
HELD_SHOWN = 40
DONE = {"approved": "Approved: it goes out in the next batch.", "held": "Held.",
        "replaced": "Replacement made: approve it, then export a batch to resubmit.",
        "voided": "Void made: approve it, then export a batch to send it."}


async def listed(request: Request, session: Session, status: str, facility: str | None = None) -> list[dict]:
    params = {"status": status, **({"facility": facility} if facility else {})}
    answer = await call(request, session, "GET", "/claims", params=params)
    return answer.body if answer.ok and isinstance(answer.body, list) else []


@router.get("")
async def queue(request: Request, session: Session = Depends(BILLER)):
    facility = (request.query_params.get("facility") or "").strip()[:64] or None  # one ED's claims
    ready = await listed(request, session, "prepared", facility)
    all_held, held = await listed(request, session, "held", facility), []
    for claim in all_held[:HELD_SHOWN]:  # the list has no reasons: each held claim in full, oldest first
        full = await call(request, session, "GET", f"/claims/{claim['id']}")
        held.append(full.body if full.ok else {**claim, "hold_reasons": []})
    approved = await listed(request, session, "approved", facility)
    denials = await call(request, session, "GET", "/denials")
    queued = [d for d in (denials.body if denials.ok else []) if facility in (None, d.get("facility"))]
    payers = sorted({c["payer"] for c in approved if c.get("payer")})
    return render(request, "billing/queue.html", ready=ready, held=held, held_count=len(all_held), approved=approved,
                  payers=payers, rows=ROWS_SHOWN, denials=queued, facility=facility or "", bw=billing_words,
                  btab="queue", done=DONE.get(request.query_params.get("done", "")))


async def claim_context(request: Request, session: Session, claim_id: str) -> dict | None:
    answer = await call(request, session, "GET", f"/claims/{claim_id}")
    if not answer.ok:
        return None
    claim = answer.body
    denial = None
    if claim["status"] in ("denied", "rejected"):
        queued = await call(request, session, "GET", "/denials")
        denial = next((d for d in (queued.body if queued.ok else []) if d["claim_id"] == claim_id), None)
    minutes = sum(line.get("minutes") or 0 for line in claim.get("lines", []))
    return {"claim": claim, "denial": denial, "bw": billing_words, "btab": "queue",
            "form": {"minutes": minutes or "",
                     "diagnoses": ", ".join(map(billing_words.icd10, claim.get("diagnoses", [])))}}


def not_found(request: Request):
    return render(request, "message.html", status=404, title="Not found", message="There is no such claim.")


@router.get("/claims/{claim_id}")
async def claim_page(claim_id: str, request: Request, session: Session = Depends(BILLER)):
    context = await claim_context(request, session, claim_id)
    if context is None:
        return not_found(request)
    return render(request, "billing/claim.html", **context, done=DONE.get(request.query_params.get("done", "")))


async def _act(request: Request, session: Session, claim_id: str, path: str, *, body=None, done: str,
               form: dict, to_new: bool = False):
    """One action on billing; on success to the claim (or the new claim), else the claim with billing's reason."""
    answer = await call(request, session, "POST", f"/claims/{claim_id}{path}", json=body, key=form.get("key"))
    if answer.ok:
        target = answer.body["id"] if to_new and isinstance(answer.body, dict) else claim_id
        return RedirectResponse(f"/billing/claims/{target}?done={done}", status_code=303)
    context = await claim_context(request, session, claim_id)
    if context is None:
        return not_found(request)
    if to_new:
        context["form"] = {"minutes": form.get("minutes", ""), "diagnoses": form.get("diagnoses", "")}
    return render(request, "billing/claim.html", status=answer.status if answer.status >= 400 else 422, **context,
                  error=f"Not done: {answer.detail or answer.status}")


@router.post("/claims/{claim_id}/approve")
async def approve(claim_id: str, request: Request, session: Session = Depends(BILLER)):
    form = await form_of(request)
    check_csrf(session, form)
    return await _act(request, session, claim_id, "/approve", done="approved", form=form)


@router.post("/claims/{claim_id}/hold")
async def hold(claim_id: str, request: Request, session: Session = Depends(BILLER)):
    form = await form_of(request)
    check_csrf(session, form)
    reason = (form.get("reason") or "").strip()[:500]
    if not reason:
        context = await claim_context(request, session, claim_id)
        if context is None:
            return not_found(request)
        return render(request, "billing/claim.html", status=422, **context, error="Say why the claim is held.")
    return await _act(request, session, claim_id, "/hold", body={"reason": reason}, done="held", form=form)


@router.post("/claims/{claim_id}/replace")
async def replace(claim_id: str, request: Request, session: Session = Depends(BILLER)):
    form = await form_of(request)
    check_csrf(session, form)
    body: dict = {}
    problem = None
    if (form.get("minutes") or "").strip():
        try:
            body["minutes"] = int(form["minutes"])
        except ValueError:
            problem = "Give the documented minutes as a whole number."
    codes = billing_words.diagnoses(form.get("diagnoses") or "")
    if codes:
        body["diagnoses"] = codes
    if problem:
        context = await claim_context(request, session, claim_id)
        if context is None:
            return not_found(request)
        context["form"] = form
        return render(request, "billing/claim.html", status=422, **context, error=problem)
    return await _act(request, session, claim_id, "/replace", body=body, done="replaced", form=form, to_new=True)


@router.post("/claims/{claim_id}/void")
async def void(claim_id: str, request: Request, session: Session = Depends(BILLER)):
    form = await form_of(request)
    check_csrf(session, form)
    return await _act(request, session, claim_id, "/void", done="voided", form=form, to_new=True)
