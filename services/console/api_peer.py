"""The peer app: Now (my offers), an offer (the notify deep link), my cases, consent, encounters, my shifts."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from .domain import consent as consent_form
from .domain.words import DECLINE_REASONS, parse_instant
from .pages import call_as_peer, check_csrf, form_of, render, role
from .service import Session

router = APIRouter(prefix="/peer", include_in_schema=False)
PEER = role("peer")
TAKEN = ("accepted", "completed")


def now(request: Request) -> datetime:
    return request.app.state.clock.now()


async def my_offers(request: Request, session: Session) -> list[dict] | None:
    """The peer's open offers; None when pairing could not say (never shown as "no offers")."""
    answer = await call_as_peer(request, session, "GET", "/assignments", params={"mine": "true", "status": "offered"})
    return answer.body if answer.ok else None


@router.get("")
async def now_page(request: Request, session: Session = Depends(PEER)):
    offers = await my_offers(request, session)
    return render(request, "peer/now.html", status=200 if offers is not None else 503, offers=offers,
                  now=now(request), tab="now", declined=request.query_params.get("declined"))


@router.get("/now/offers")
async def now_offers(request: Request, session: Session = Depends(PEER)):
    """The Now list alone, which the page asks for every few seconds (live without a reload); 503 keeps the list
    the page has, marked out of date."""
    offers = await my_offers(request, session)
    return render(request, "peer/_offers.html", status=200 if offers is not None else 503, offers=offers,
                  now=now(request))


async def assignment(request: Request, session: Session, assignment_id: str) -> dict | None:
    """The peer's own assignment, or None: pairing answers 404 for anyone else's."""
    answer = await call_as_peer(request, session, "GET", f"/assignments/{assignment_id}")
    return answer.body if answer.ok else None


def not_found(request: Request):
    return render(request, "message.html", status=404, title="Not found",
                  message="There is no such offer or case among yours.")


@router.get("/offers/{assignment_id}")
async def offer_page(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    offer = await assignment(request, session, assignment_id)
    if offer is None:
        return not_found(request)
    return render(request, "peer/offer.html", offer=offer, now=now(request), reasons=DECLINE_REASONS, tab="now")


@router.post("/offers/{assignment_id}/accept")
async def accept(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    form = await form_of(request)
    check_csrf(session, form)
    answer = await call_as_peer(request, session, "POST", f"/assignments/{assignment_id}/accept", key=form.get("key"))
    if answer.ok:
        return RedirectResponse(f"/peer/cases/{assignment_id}", status_code=303)
    return await _offer_again(request, session, assignment_id, answer)


@router.post("/offers/{assignment_id}/decline")
async def decline(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    form = await form_of(request)
    check_csrf(session, form)
    reason = form.get("reason", "")
    if reason not in DECLINE_REASONS:
        offer = await assignment(request, session, assignment_id)
        if offer is None:
            return not_found(request)
        return render(request, "peer/offer.html", status=422, offer=offer, now=now(request), reasons=DECLINE_REASONS,
                      error="Choose a reason to decline.", tab="now")
    answer = await call_as_peer(request, session, "POST", f"/assignments/{assignment_id}/decline",
                                json={"reason": reason}, key=form.get("key"))
    if answer.ok:
        return RedirectResponse("/peer?declined=1", status_code=303)
    return await _offer_again(request, session, assignment_id, answer)


async def _offer_again(request: Request, session: Session, assignment_id: str, answer):
    offer = await assignment(request, session, assignment_id)
    if offer is None:
        return not_found(request)
    if offer["status"] in TAKEN:  # an earlier send of this tap got through (its answer was lost): on to the case
        return RedirectResponse(f"/peer/cases/{assignment_id}", status_code=303)
    message = ("This offer is no longer open: it expired, was withdrawn or went to another peer."
               if answer.status == 409 else f"Not sent: {answer.detail or answer.status}")
    return render(request, "peer/offer.html", status=answer.status if answer.status >= 400 else 409, offer=offer,
                  now=now(request), reasons=DECLINE_REASONS, error=message, tab="now")


@router.get("/cases")
async def cases_page(request: Request, session: Session = Depends(PEER)):
    answer = await call_as_peer(request, session, "GET", "/assignments", params={"mine": "true"})
    mine = [a for a in (answer.body if answer.ok else []) if a["status"] in TAKEN]
    mine.sort(key=lambda a: a.get("accepted_at") or "", reverse=True)
    return render(request, "peer/cases.html", cases=mine, now=now(request), tab="cases")


async def case_context(request: Request, session: Session, assignment_id: str) -> dict | None:
    held = await assignment(request, session, assignment_id)
    if held is None or held["status"] not in TAKEN:
        return None
    case = await call_as_peer(request, session, "GET", f"/cases/{held['case_id']}")
    return {"a": held, "case": case.body if case.ok else None, "now": now(request), "tab": "cases"}


@router.get("/cases/{assignment_id}")
async def case_page(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    context = await case_context(request, session, assignment_id)
    if context is None:
        return not_found(request)
    return render(request, "peer/case.html", **context, done=request.query_params.get("done"))


async def _act(request: Request, session: Session, assignment_id: str, method: str, path: str, *, body=None,
               done: str, template: str = "peer/case.html", form: dict):
    """Send one action to pairing; back to the case on success, the same page with pairing's reason otherwise."""
    answer = await call_as_peer(request, session, method, path, json=body, key=form.get("key"))
    if answer.ok:
        return RedirectResponse(f"/peer/cases/{assignment_id}?done={done}", status_code=303)
    context = await case_context(request, session, assignment_id)
    if context is None:
        return not_found(request)
    return render(request, template, status=answer.status if answer.status >= 400 else 422, **context,
                  error=f"Not recorded: {answer.detail or answer.status}", form=form,
                  elements=consent_form.elements(context["a"]["facility"]))


@router.post("/cases/{assignment_id}/arrive")
async def arrive(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    form = await form_of(request)
    check_csrf(session, form)
    return await _act(request, session, assignment_id, "POST", f"/assignments/{assignment_id}/arrive",
                      done="arrived", form=form)


@router.get("/cases/{assignment_id}/consent")
async def consent_page(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    context = await case_context(request, session, assignment_id)
    if context is None:
        return not_found(request)
    return render(request, "peer/consent.html", **context, elements=consent_form.elements(context["a"]["facility"]),
                  form={})


@router.post("/cases/{assignment_id}/consent")
async def consent(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    form = await form_of(request)
    check_csrf(session, form)
    decision = form.get("decision")
    body = {"scope": consent_form.SCOPE, "contact_ok": form.get("contact_ok") == "yes"}
    if decision == "granted":
        context = await case_context(request, session, assignment_id)
        if context is None:
            return not_found(request)
        if not form.get("signature", "").startswith("data:image/png;base64,") or form.get("confirm") != "yes":
            return render(request, "peer/consent.html", status=422, **context, form=form,
                          elements=consent_form.elements(context["a"]["facility"]),
                          error="The patient's signature and your confirmation are both needed.")
        body.update(granted=True, accepts_support=True, signature=form["signature"],
                    signer="representative" if form.get("representative") == "yes" else "patient",
                    recipients=consent_form.recipients(context["a"]["facility"]))
    else:
        body.update(granted=False, accepts_support=False)
    return await _act(request, session, assignment_id, "POST", f"/assignments/{assignment_id}/consent", body=body,
                      done="consent", template="peer/consent.html", form=form)


@router.get("/cases/{assignment_id}/encounter")
async def encounter_page(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    context = await case_context(request, session, assignment_id)
    if context is None:
        return not_found(request)
    return render(request, "peer/encounter.html", **context, form={})


def encounter_times(form: dict, at: datetime) -> tuple[datetime, datetime] | str:
    """Start and end from minutes (ending when first sent) or from two clock times; or what is wrong."""
    ended = parse_instant(form.get("sent_at")) or at  # set by the page on the first tap, so a retry sends the same
    if ended.tzinfo is None:
        ended = ended.replace(tzinfo=timezone.utc)
    if form.get("mode") == "times":
        try:
            offset = timedelta(minutes=-int(form.get("tz_offset") or 0))  # JavaScript's getTimezoneOffset sign
            zone = timezone(offset)
            day = ended.astimezone(zone).date()
            start = datetime.combine(day, datetime.strptime(form["start"], "%H:%M").time(), zone)
            end = datetime.combine(day, datetime.strptime(form["end"], "%H:%M").time(), zone)
        except (KeyError, ValueError):
            return "Give the start and end as times (HH:MM)."
        if start > ended:  # a session that began before midnight
            start -= timedelta(days=1)
        if end <= start:
            end += timedelta(days=1)
        return start, end
    try:
        minutes = int(form.get("minutes", ""))
    except ValueError:
        return "Give the minutes spent with the patient."
    if not 1 <= minutes <= 480:
        return "Minutes must be between 1 and 480."
    return ended - timedelta(minutes=minutes), ended


@router.post("/cases/{assignment_id}/encounter")
async def encounter(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    form = await form_of(request)
    check_csrf(session, form)
    times = encounter_times(form, now(request))
    modality = form.get("modality")
    if isinstance(times, str) or modality not in ("in-person", "telehealth-video", "telephone"):
        context = await case_context(request, session, assignment_id)
        if context is None:
            return not_found(request)
        return render(request, "peer/encounter.html", status=422, **context, form=form,
                      error=times if isinstance(times, str) else "Choose in person, video or telephone.")
    body = {"assignment_id": assignment_id, "started_at": times[0].isoformat(), "ended_at": times[1].isoformat(),
            "modality": modality, "kind": "individual", "note": (form.get("note") or "").strip()[:2000] or None}
    return await _act(request, session, assignment_id, "POST", "/encounters", body=body, done="encounter",
                      template="peer/encounter.html", form=form)


@router.post("/cases/{assignment_id}/contacts")
async def contact(assignment_id: str, request: Request, session: Session = Depends(PEER)):
    form = await form_of(request)
    check_csrf(session, form)
    held = await assignment(request, session, assignment_id)
    if held is None:
        return not_found(request)
    at = parse_instant(form.get("sent_at")) or now(request)
    return await _act(request, session, assignment_id, "POST", f"/cases/{held['case_id']}/contacts",
                      body={"at": at.isoformat(), "outcome": form.get("outcome", "")}, done="contact", form=form)


@router.get("/shifts")
async def shifts_page(request: Request, session: Session = Depends(PEER)):
    me = await call_as_peer(request, session, "GET", "/me")
    return render(request, "peer/shifts.html", me=me.body if me.ok else None, now=now(request), tab="shifts")
