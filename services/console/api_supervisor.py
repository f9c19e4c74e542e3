"""The supervisor's live board: open cases (crisis first, then oldest), refreshed in place; a case's page with its
delivery status and the actions: assign by hand (checked against the hard constraints), re-match, acknowledge an
escalation, close."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from .domain import supervisor_words as sw
from .pages import check_csrf, form_of, render, role
from .service import Session
from .supervisor_calls import call, read

router = APIRouter(prefix="/supervisor", include_in_schema=False)
LEAD = role("supervisor")
# Rows on the board (crisis first, then oldest), so the page stays under 100 kB (about 0.45 kB a row).
ROWS_SHOWN = 150
DONE = {"handoff": "Hand-off outcome recorded.", "rematched": "Re-matched.", "assigned": "Assigned.",
        "acknowledged": "Escalation acknowledged.", "closed": "Case closed."}


def now(request: Request):
    return request.app.state.clock.now()


def facility_of(request: Request) -> str:
    return (request.query_params.get("facility") or "").strip()[:64]


async def board_context(request: Request, session: Session) -> dict:
    facility = facility_of(request)
    cases = await read(request, session, "pairing", "/board", None, facility=facility, limit=ROWS_SHOWN + 1)
    more = cases is not None and len(cases) > ROWS_SHOWN
    return {"cases": cases[:ROWS_SHOWN] if cases else cases, "more": more, "facility": facility, "now": now(request),
            "sw": sw}


@router.get("")
async def board(request: Request, session: Session = Depends(LEAD)):
    context = await board_context(request, session)
    facilities = await read(request, session, "pairing", "/board/facilities", [])
    return render(request, "supervisor/board.html", status=200 if context["cases"] is not None else 503,
                  stab="board", facilities=facilities, **context)


@router.get("/board/rows")
async def board_rows(request: Request, session: Session = Depends(LEAD)):
    """The board's table alone, which the page asks for every few seconds (live without a reload)."""
    context = await board_context(request, session)
    return render(request, "supervisor/_board_rows.html", status=200 if context["cases"] is not None else 503,
                  **context)


async def case_context(request: Request, session: Session, case_id: str) -> dict | None:
    found = await read(request, session, "pairing", f"/board/cases/{case_id}")
    if not found or not found.get("case"):
        detail = await read(request, session, "pairing", f"/cases/{case_id}")
        if detail is None:
            return None
        found = {"case": {**detail, "state": "closed" if detail["status"] == "closed" else "waiting",
                          "crisis": False, "visit": None}, "actions": []}
    case = found["case"]
    candidates = [] if case["status"] == "closed" else await read(
        request, session, "pairing", f"/board/cases/{case_id}/candidates", [])
    names = {c["specialist_id"]: c.get("name") for c in candidates}
    messages = await read(request, session, "notify", "/messages", None, facility=case["facility"],
                          visit_number=case["visit_number"])
    handoffs = await read(request, session, "pairing", "/crisis-handoffs", [], case_id=case["id"])
    return {"case": case, "actions": found["actions"], "candidates": candidates, "names": names,
            "messages": messages, "handoffs": handoffs or [], "now": now(request), "sw": sw, "stab": "board"}


def not_found(request: Request):
    return render(request, "message.html", status=404, title="Not found", message="There is no such case.")


@router.get("/cases/{case_id}")
async def case_page(case_id: str, request: Request, session: Session = Depends(LEAD)):
    context = await case_context(request, session, case_id)
    if context is None:
        return not_found(request)
    return render(request, "supervisor/case.html", **context, done=DONE.get(request.query_params.get("done", "")))


async def _act(request: Request, session: Session, case_id: str, path: str, body: dict | None, form: dict,
               done: str, service: str = "pairing"):
    answer = await call(request, session, "POST", service, path, json=body, key=form.get("key"))
    if answer.ok:
        return RedirectResponse(f"/supervisor/cases/{case_id}?done={done}", status_code=303)
    return await _refused(request, session, case_id, answer.detail or str(answer.status),
                          answer.status if answer.status >= 400 else 422)


async def _refused(request: Request, session: Session, case_id: str, why: str, status: int = 422):
    context = await case_context(request, session, case_id)
    if context is None:
        return not_found(request)
    return render(request, "supervisor/case.html", status=status, **context, error=f"Not done: {why}")


@router.post("/cases/{case_id}/rematch")
async def rematch(case_id: str, request: Request, session: Session = Depends(LEAD)):
    form = await form_of(request)
    check_csrf(session, form)
    if form.get("reason") not in sw.REMATCH_REASONS:
        return await _refused(request, session, case_id, "choose why the case is re-matched.")
    body = {"reason": form["reason"], "assignment_id": form.get("assignment_id") or None}
    return await _act(request, session, case_id, f"/board/cases/{case_id}/rematch", body, form, "rematched")


@router.post("/cases/{case_id}/assign")
async def assign(case_id: str, request: Request, session: Session = Depends(LEAD)):
    form = await form_of(request)
    check_csrf(session, form)
    if not form.get("specialist_id"):
        return await _refused(request, session, case_id, "choose a peer.")
    body = {"specialist_id": form["specialist_id"],
            "override_reason": (form.get("override_reason") or "").strip()[:300] or None}
    return await _act(request, session, case_id, f"/board/cases/{case_id}/assign", body, form, "assigned")


@router.post("/cases/{case_id}/acknowledge")
async def acknowledge(case_id: str, request: Request, session: Session = Depends(LEAD)):
    form = await form_of(request)
    check_csrf(session, form)
    answer = await call(request, session, "POST", "pairing", f"/board/cases/{case_id}/acknowledge",
                        key=form.get("key"))
    if not answer.ok:
        return await _refused(request, session, case_id, answer.detail or str(answer.status), answer.status)
    # notify's reminders to the on-call supervisor stop too (its alert for this visit)
    alerts = await read(request, session, "notify", "/alerts", [], facility=form.get("facility"), open="true")
    for alert in alerts or []:
        if alert.get("visit_number") == form.get("visit_number"):
            await call(request, session, "POST", "notify", f"/alerts/{alert['id']}/ack")
    return RedirectResponse(f"/supervisor/cases/{case_id}?done=acknowledged", status_code=303)


@router.post("/cases/{case_id}/close")
async def close(case_id: str, request: Request, session: Session = Depends(LEAD)):
    form = await form_of(request)
    check_csrf(session, form)
    if form.get("reason") not in sw.CLOSE_REASONS:
        return await _refused(request, session, case_id, "choose why the case is closed.")
    return await _act(request, session, case_id, f"/cases/{case_id}/close", {"reason": form["reason"]}, form,
                      "closed")


@router.post("/cases/{case_id}/handoffs/{handoff_id}")
async def handoff_outcome(case_id: str, handoff_id: str, request: Request, session: Session = Depends(LEAD)):
    """How a crisis hand-off ended (pairing's crisis path, issue 14)."""
    form = await form_of(request)
    check_csrf(session, form)
    if form.get("outcome") not in sw.HANDOFF_OUTCOMES:
        return await _refused(request, session, case_id, "choose how the hand-off ended.")
    return await _act(request, session, case_id, f"/crisis-handoffs/{handoff_id}/outcome",
                      {"outcome": form["outcome"]}, form, "handoff")
