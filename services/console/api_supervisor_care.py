"""Supervision (sessions, hours this period against the state's requirement, certification and CE renewals due) and
confidential leave (the batch re-match of the peer's cases previewed, then applied once approved): pairing's care
routes, as the signed-in supervisor."""
from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from .domain import supervisor_words as sw
from .pages import check_csrf, form_of, render, role
from .service import Session
from .supervisor_calls import call, read

router = APIRouter(prefix="/supervisor", include_in_schema=False)
LEAD = role("supervisor")
DONE = {"session": "Supervision session recorded.", "leave": "On leave. Review the re-match of their cases below.",
        "applied": "Re-match applied.", "back": "Back from leave: available for matching again."}


async def _names(request: Request, session: Session) -> dict[str, str]:
    found = await read(request, session, "pairing", "/board/roster", {"peers": []})
    return {p["id"]: p.get("name") or p["id"][:8] for p in found["peers"]}


async def _supervision(request: Request, session: Session, status: int = 200, **extra):
    facility = (request.query_params.get("facility") or "").strip()[:64]
    standing = await read(request, session, "pairing", "/supervision", None, facility=facility)
    renewals = await read(request, session, "pairing", "/renewals", None)
    return render(request, "supervisor/supervision.html", status=status if standing is not None else 503,
                  stab="supervision", standing=standing, renewals=renewals, names=await _names(request, session),
                  facility=facility, sw=sw, today=request.app.state.clock.now().date().isoformat(),
                  done=DONE.get(request.query_params.get("done", "")), **extra)


@router.get("/supervision")
async def supervision(request: Request, session: Session = Depends(LEAD)):
    return await _supervision(request, session)


@router.post("/supervision/sessions")
async def record_session(request: Request, session: Session = Depends(LEAD)):
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    check_csrf(session, form)
    try:
        minutes = int(form.get("minutes") or 0)
    except ValueError:
        minutes = 0
    if not form.get("specialist_id") or minutes <= 0 or not form.get("held_on"):
        return await _supervision(request, session, 422, error="Choose the peer, the day and the minutes.")
    body = {"held_on": form["held_on"], "supervisor": session.username[:64], "minutes": minutes,
            "format": form.get("format") or "individual",
            "topics": [t for t in raw.getlist("topics") if isinstance(t, str) and t in sw.SUPERVISION_TOPICS]}
    path = f"/specialists/{form['specialist_id']}/supervision-sessions"
    answer = await call(request, session, "POST", "pairing", path, json=body, key=form.get("key"))
    if not answer.ok:
        return await _supervision(request, session, 422, error=f"Not recorded: {answer.detail or answer.status}")
    return RedirectResponse("/supervisor/supervision?done=session", status_code=303)


@router.post("/peers/{peer_id}/leave")
async def start_leave(peer_id: str, request: Request, session: Session = Depends(LEAD)):
    form = await form_of(request)
    check_csrf(session, form)
    if form.get("reason") not in sw.LEAVE_REASONS:
        return RedirectResponse(f"/supervisor/peers/{peer_id}", status_code=303)
    # The recording supervisor is the peer's supervisor: the only one pairing shows the reason to.
    answer = await call(request, session, "POST", "pairing", f"/specialists/{peer_id}/leave",
                        json={"reason": form["reason"], "supervisor": f"console:{session.username}"[:64]},
                        key=form.get("key"))
    if not answer.ok:
        return await _leave_page(request, session, peer_id, 422, error=f"Not done: {answer.detail or answer.status}")
    return RedirectResponse(f"/supervisor/peers/{peer_id}/leave?done=leave", status_code=303)


async def _leave_page(request: Request, session: Session, peer_id: str, status: int = 200, **extra):
    peer = await read(request, session, "pairing", f"/specialists/{peer_id}")
    if peer is None:
        return render(request, "message.html", status=404, title="Not found", message="There is no such peer.")
    leave = await read(request, session, "pairing", f"/specialists/{peer_id}/leave", {"status": "available"})
    plan = await read(request, session, "pairing", f"/specialists/{peer_id}/leave/rematch", {"moves": []})
    cases = {c["id"]: c for c in await read(request, session, "pairing", "/board", [])}
    return render(request, "supervisor/leave.html", status=status, stab="roster", peer=peer, leave=leave,
                  moves=plan["moves"], plan_json=json.dumps(plan["moves"]), cases=cases,
                  names=await _names(request, session), sw=sw,
                  done=DONE.get(request.query_params.get("done", "")), **extra)


@router.get("/peers/{peer_id}/leave")
async def leave_page(peer_id: str, request: Request, session: Session = Depends(LEAD)):
    return await _leave_page(request, session, peer_id)


@router.post("/peers/{peer_id}/leave/apply")
async def apply_rematch(peer_id: str, request: Request, session: Session = Depends(LEAD)):
    """Apply the batch re-match the supervisor saw; pairing refuses (409) when the plan has changed since."""
    form = await form_of(request)
    check_csrf(session, form)
    try:
        moves = json.loads(form.get("moves") or "[]")
    except ValueError:
        moves = None
    answer = await call(request, session, "POST", "pairing", f"/specialists/{peer_id}/leave/rematch",
                        json={"moves": moves} if isinstance(moves, list) else {}, key=form.get("key"))
    if not answer.ok:
        return await _leave_page(request, session, peer_id, 409 if answer.status == 409 else 422,
                                 error=f"Not applied: {answer.detail or answer.status}. The plan below is current.")
    return RedirectResponse(f"/supervisor/peers/{peer_id}/leave?done=applied", status_code=303)


@router.post("/peers/{peer_id}/leave/end")
async def end_leave(peer_id: str, request: Request, session: Session = Depends(LEAD)):
    form = await form_of(request)
    check_csrf(session, form)
    answer = await call(request, session, "DELETE", "pairing", f"/specialists/{peer_id}/leave")
    if not answer.ok:
        return await _leave_page(request, session, peer_id, 422, error=f"Not done: {answer.detail or answer.status}")
    return RedirectResponse(f"/supervisor/peers/{peer_id}?done=back", status_code=303)
