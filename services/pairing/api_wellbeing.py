"""Peer wellbeing routes (issue 14): supervision sessions, renewal warnings, confidential leave and its re-match."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime

from . import service_wellbeing as wb
from . import store, store_care
from .api_assignments import answer, as_problems, get_service
from .api_roster import _existing, specialist
from .models import Created
from .models_care import (ApplyIn, LeaveApplied, LeaveIn, LeavePlan, LeaveRead, RenewalRead, SessionIn, SessionRead,
                          SupervisionRead)
from .service import PairingService
from .unit_of_work import unit_of_work

router = APIRouter(tags=["wellbeing"], responses=problems(401, 403))
LEAD = require("supervisor", "admin")


def session_json(row) -> SessionRead:
    return SessionRead(id=str(row["id"]), held_on=row["held_on"].isoformat(), supervisor=row["supervisor"],
                       minutes=row["minutes"], format=row["format"], topics=list(row["topics"]))


@router.post("/specialists/{specialist_id}/supervision-sessions", status_code=201,
             summary="Record a supervision session of a peer",
             description="Known by peer, supervisor, day and format: the same session again answers 200 with its id; "
                         "other minutes or topics for it are 409.",
             responses={200: {"model": Created, "description": "Already recorded: the same session"},
                        **problems(400, 404, 409, 422)})
async def add_session(specialist_id: str, body: SessionIn, response: Response,
                      runtime: ServiceRuntime = Depends(get_runtime), _who: Principal = Depends(LEAD)) -> Created:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            row = await _existing(uow.conn, specialist_id)
            if body.held_on > uow.clock.now().date():
                raise HTTPException(422, "held_on: in the future")
            recorded = await wb.record_session(uow, row, body.model_dump())
    return answer(recorded, response)


@router.get("/specialists/{specialist_id}/supervision", summary="A peer's supervision against the requirement",
            description="Sessions held in the last `days` days (default: the requirement's period) and the standing "
                        "in the current period: hours required by the peer's programs (the strictest of their "
                        "facilities), held, individual and group, and whether the requirement is met.",
            responses=problems(400, 404, 422))
async def read_supervision(days: int | None = Query(None, ge=1, le=3660), row=Depends(specialist),
                           service: PairingService = Depends(get_service),
                           runtime: ServiceRuntime = Depends(get_runtime)) -> SupervisionRead:
    today = runtime.clock.now().date()
    async with runtime.pool.acquire() as conn:
        held = await store_care.sessions(conn, str(row["id"]))
    standing = wb.standing_of(service, row["data"], held, today)
    since = today - timedelta(days=days - 1) if days else standing.period_from
    return SupervisionRead(specialist_id=str(row["id"]), standing=standing.as_dict(),
                           sessions=[session_json(s) for s in held if s["held_on"] >= since])


@router.get("/supervision", summary="Every active peer's supervision standing (optionally one facility's)",
            responses=problems(400, 422))
async def supervision_overview(facility: str | None = None, service: PairingService = Depends(get_service),
                               runtime: ServiceRuntime = Depends(get_runtime),
                               _who: Principal = Depends(LEAD)) -> list[dict]:
    today = runtime.clock.now().date()
    async with runtime.pool.acquire() as conn:
        people = await store.list_specialists(conn, facility=facility, status="active")
        held = await store_care.all_sessions_since(conn, today - timedelta(days=3660))
    by_peer: dict[str, list] = {}
    for s in held:
        by_peer.setdefault(s["specialist_id"], []).append(s)
    return [{"specialist_id": str(p["id"]), "name": p["data"].get("name"),
             **wb.standing_of(service, p["data"], by_peer.get(str(p["id"]), []), today).as_dict()} for p in people]


@router.get("/renewals", summary="Certifications expiring and CE falling due (60 and 30 days by default)",
            description="Each credential of an active or on-leave peer whose certification expires, or whose "
                        "continuing education (`ce_due_on`) falls due, within `within_days` (default: the largest "
                        "warning threshold, 60), late ones included. The supervisor is also warned through notify "
                        "(`CredentialRenewalDue`) once per credential, date and threshold crossed.",
            responses=problems(400, 422))
async def list_renewals(within_days: int | None = Query(None, ge=0, le=3660),
                        service: PairingService = Depends(get_service), runtime: ServiceRuntime = Depends(get_runtime),
                        _who: Principal = Depends(LEAD)) -> list[RenewalRead]:
    async with runtime.pool.acquire() as conn:
        found = await wb.due_renewals(service, conn, runtime.clock.now().date(), within_days)
    return [RenewalRead(specialist_id=r.specialist_id, credential=r.credential, kind=r.kind,
                        due_on=r.due_on.isoformat(), days_left=r.days_left, threshold_days=r.threshold_days,
                        supervisor=supervisor) for r, supervisor in found]


async def _leave_read(conn, row, who: Principal) -> LeaveRead:
    leave = await store_care.open_leave(conn, str(row["id"]))
    if leave is None:
        return LeaveRead(specialist_id=str(row["id"]), status="available")
    # The reason is for the peer's supervisor only; everyone else learns that the peer is unavailable.
    mine = who.has("supervisor") and who.subject == leave["supervisor"]
    return LeaveRead(specialist_id=str(row["id"]), status="unavailable", since=leave["started_at"].isoformat(),
                     reason=leave["reason"] if mine else None)


@router.post("/specialists/{specialist_id}/leave", status_code=201, summary="Put a peer on confidential leave",
             description="The reason code is kept for the peer's supervisor only (the program's supervisor, or "
                         "`supervisor`); everyone else sees `unavailable`. The peer leaves matching at once and their "
                         "pending offers go to the next peer; their open cases wait for the batch re-match "
                         "(`GET` / `POST /specialists/{id}/leave/rematch`). A leave already open answers 200.",
             responses={200: {"model": LeaveRead, "description": "Already on leave"}, **problems(400, 404, 409, 422)})
async def start_leave(specialist_id: str, body: LeaveIn, response: Response,
                      service: PairingService = Depends(get_service), runtime: ServiceRuntime = Depends(get_runtime),
                      who: Principal = Depends(LEAD)) -> LeaveRead:
    with as_problems():
        async with unit_of_work(runtime) as uow:
            row = await _existing(uow.conn, specialist_id)
            recorded = await wb.start_leave(service, uow, row, body.model_dump(), who.subject)
            read = await _leave_read(uow.conn, row, who)
    if not recorded.new:
        response.status_code = 200
    return read


@router.get("/specialists/{specialist_id}/leave", summary="Whether a peer is available (the reason: their "
                                                          "supervisor only)", responses=problems(400, 404))
async def read_leave(row=Depends(specialist), runtime: ServiceRuntime = Depends(get_runtime),
                     who: Principal = Depends(LEAD)) -> LeaveRead:
    async with runtime.pool.acquire() as conn:
        return await _leave_read(conn, row, who)


@router.delete("/specialists/{specialist_id}/leave", summary="A peer returns from leave",
               description="The peer is active again; ending a leave that is not open changes nothing.",
               responses=problems(400, 404))
async def end_leave(specialist_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                    who: Principal = Depends(LEAD)) -> LeaveRead:
    async with unit_of_work(runtime) as uow:
        row = await _existing(uow.conn, specialist_id)
        if await store_care.open_leave(uow.conn, str(row["id"])) is not None:
            await wb.end_leave(uow, row)
        return await _leave_read(uow.conn, row, who)


@router.get("/specialists/{specialist_id}/leave/rematch", summary="Preview the batch re-match of a peer's cases",
            description="What would move where if applied now (nothing is written): each open case of the peer, the "
                        "peer it would go to (null: nobody eligible with room, it would be escalated), the score and "
                        "how many peers were eligible. Same rules as the batch re-match (hard constraints, payer "
                        "credential on the date of service, caseload slots, one optimal assignment).",
            responses=problems(400, 404))
async def preview_leave_rematch(specialist_id: str, service: PairingService = Depends(get_service),
                                runtime: ServiceRuntime = Depends(get_runtime),
                                _who: Principal = Depends(LEAD)) -> LeavePlan:
    async with unit_of_work(runtime) as uow:
        row = await _existing(uow.conn, specialist_id, lock=False)
        cases, transfers = await wb.leave_plan(service, uow, str(row["id"]))
    return LeavePlan(specialist_id=str(row["id"]), moves=wb.plan_json(cases, transfers))


@router.post("/specialists/{specialist_id}/leave/rematch", summary="Apply the batch re-match of a peer on leave",
             description="Moves each open case of the peer as the preview shows; with `moves` (the approved "
                         "preview) only if the plan is still the same, else 409. Applying again when nothing is left "
                         "to move answers 200 with no moves. 409 when the peer is not on leave.",
             responses=problems(400, 404, 409, 422))
async def apply_leave_rematch(specialist_id: str, body: ApplyIn | None = None,
                              service: PairingService = Depends(get_service),
                              runtime: ServiceRuntime = Depends(get_runtime),
                              _who: Principal = Depends(LEAD)) -> LeaveApplied:
    approved = [m.model_dump() for m in body.moves] if body and body.moves is not None else None
    with as_problems():
        async with unit_of_work(runtime) as uow:
            row = await _existing(uow.conn, specialist_id)
            if row["status"] == "active":
                raise HTTPException(409, "the specialist is not on leave")
            plan = await wb.apply_leave_plan(service, uow, str(row["id"]), approved)
    moved = sum(1 for m in plan if m["to_specialist_id"])
    return LeaveApplied(specialist_id=str(row["id"]), moves=plan, rematched=moved, unassigned=len(plan) - moved)
