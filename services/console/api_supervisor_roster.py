"""The roster: peers with certification warnings, time in recovery, languages, experience, pathways, caseload against
the cap, recusals and the week's shifts; adding and editing a peer and their shifts (pairing's roster API)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from .domain import peer_form
from .domain import supervisor_words as sw
from .pages import check_csrf, form_of, render, role
from .service import Session
from .supervisor_calls import call, read

router = APIRouter(prefix="/supervisor", include_in_schema=False)
LEAD = role("supervisor")
DONE = {"saved": "Saved.", "added": "Peer added.", "shift-added": "Shift added.", "shift-removed": "Shift removed.",
        "back": "Back from leave: available for matching again."}


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@router.get("/roster")
async def roster(request: Request, session: Session = Depends(LEAD)):
    facility = (request.query_params.get("facility") or "").strip()[:64]
    week = _day(request.query_params.get("week"))
    found = await read(request, session, "pairing", "/board/roster", None, facility=facility,
                       week=week.isoformat() if week else None)
    today = request.app.state.clock.now().date()
    if found is None:
        return render(request, "supervisor/roster.html", status=503, stab="roster", peers=None, facility=facility)
    start = datetime.fromisoformat(found["week_start"])
    days = sw.week_days(start)
    return render(request, "supervisor/roster.html", stab="roster", peers=found["peers"], facility=facility,
                  days=days, today=today, sw=sw, prev=(start - timedelta(days=7)).date().isoformat(),
                  next=(start + timedelta(days=7)).date().isoformat(),
                  done=DONE.get(request.query_params.get("done", "")))


@router.get("/peers/new")
async def new_peer(request: Request, session: Session = Depends(LEAD)):
    return render(request, "supervisor/peer.html", stab="roster", peer={}, pf=peer_form, shifts=[], certs="", sw=sw)


async def _peer_page(request: Request, session: Session, peer_id: str, status: int = 200, **extra):
    peer = await read(request, session, "pairing", f"/specialists/{peer_id}")
    if peer is None:
        return render(request, "message.html", status=404, title="Not found", message="There is no such peer.")
    shifts = await read(request, session, "pairing", f"/specialists/{peer_id}/shifts", [])
    now = request.app.state.clock.now()
    shown = [(i, s) for i, s in enumerate(shifts) if datetime.fromisoformat(s["ends_at"]) > now][:60]
    return render(request, "supervisor/peer.html", status=status, stab="roster", peer=peer, pf=peer_form, sw=sw,
                  shifts=shown, certs=peer_form.certifications_text(peer.get("certifications", [])),
                  done=DONE.get(request.query_params.get("done", "")), **extra)


@router.get("/peers/{peer_id}")
async def peer_page(peer_id: str, request: Request, session: Session = Depends(LEAD)):
    return await _peer_page(request, session, peer_id)


async def _save(request: Request, session: Session, peer_id: str | None):
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    check_csrf(session, form)
    existing = await read(request, session, "pairing", f"/specialists/{peer_id}") if peer_id else None
    record, problems = peer_form.peer_record(form, [v for v in raw.getlist("lived_experience") if isinstance(v, str)],
                                             existing)
    if not problems:
        if peer_id:
            answer = await call(request, session, "PUT", "pairing", f"/specialists/{peer_id}", json=record,
                                key=form.get("key"))
        else:
            answer = await call(request, session, "POST", "pairing", "/specialists", json=record, key=form.get("key"))
        if answer.ok:
            target = peer_id or answer.body["id"]
            return RedirectResponse(f"/supervisor/peers/{target}?done={'saved' if peer_id else 'added'}",
                                    status_code=303)
        problems = [f"Not saved: {answer.detail or answer.status}"]
    return render(request, "supervisor/peer.html", status=422, stab="roster", peer={**(existing or {}), **record},
                  pf=peer_form, sw=sw, shifts=[], certs=form.get("certifications", ""), error=" ".join(problems))


@router.post("/peers")
async def add_peer(request: Request, session: Session = Depends(LEAD)):
    return await _save(request, session, None)


@router.post("/peers/{peer_id}")
async def edit_peer(peer_id: str, request: Request, session: Session = Depends(LEAD)):
    return await _save(request, session, peer_id)


@router.post("/peers/{peer_id}/shifts")
async def change_shifts(peer_id: str, request: Request, session: Session = Depends(LEAD)):
    """Add one shift (day, start, hours) or remove one: pairing replaces the whole list, so read, change, put."""
    form = await form_of(request)
    check_csrf(session, form)
    shifts = await read(request, session, "pairing", f"/specialists/{peer_id}/shifts", None)
    if shifts is None:
        return render(request, "message.html", status=404, title="Not found", message="There is no such peer.")
    now = request.app.state.clock.now()
    keep = [s for s in shifts if datetime.fromisoformat(s["ends_at"]) > now]
    if form.get("remove"):
        index = int(form["remove"]) if form["remove"].isdigit() else -1
        keep = [s for i, s in enumerate(shifts) if i != index and datetime.fromisoformat(s["ends_at"]) > now]
        done = "shift-removed"
    else:
        try:
            start = datetime.fromisoformat(f"{form.get('day')}T{form.get('start') or '00:00'}").replace(
                tzinfo=timezone.utc)
            hours = float(form.get("hours") or 0)
        except ValueError:
            return await _peer_page(request, session, peer_id, 422, error="Give the day, start time and hours.")
        if not 0 < hours <= 24 or not (form.get("facility") or "").strip():
            return await _peer_page(request, session, peer_id, 422, error="A shift is 1 to 24 hours at a facility.")
        keep.append({"facility": form["facility"].strip()[:64], "starts_at": start.isoformat(),
                     "ends_at": (start + timedelta(hours=hours)).isoformat()})
        done = "shift-added"
    answer = await call(request, session, "PUT", "pairing", f"/specialists/{peer_id}/shifts",
                        json=[{k: s[k] for k in ("facility", "starts_at", "ends_at")} for s in keep],
                        key=form.get("key"))
    if not answer.ok:
        return await _peer_page(request, session, peer_id, 422, error=f"Not saved: {answer.detail or answer.status}")
    return RedirectResponse(f"/supervisor/peers/{peer_id}?done={done}", status_code=303)
