"""Roster routes: specialists, their shifts and recusals (admins and supervisors)."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import uuid_or_404

from . import store, store_care
from .domain.shifts import Window, expand
from .models import (Created, MyDay, RecusalIn, RecusalsSet, ShiftIn, ShiftRead, ShiftsSet, SpecialistIn,
                     SpecialistRead)
from .unit_of_work import PairingUnitOfWork

router = APIRouter(tags=["roster"], responses=problems(401, 403))
ROSTER = require("admin", "supervisor")
DEFAULT_HORIZON_DAYS = 28
PEER = require("peer")


def specialist_json(row, who: Principal) -> SpecialistRead:
    body = dict(row["data"], id=str(row["id"]), status=row["status"])
    body.pop("status_reason", None)
    if who.has("supervisor"):
        body["status_reason"] = row["status_reason"]
    return SpecialistRead(**body)


def _stored(body: SpecialistIn) -> dict:
    return body.model_dump(mode="json", exclude={"status_reason"})


@router.post("/specialists", status_code=201, summary="Add a peer specialist",
             description="A specialist is known by their NPI: the same record sent again (a lost answer, a retried "
                         "request) answers 200 with the specialist's id and adds nothing; a different record with "
                         "this NPI is 409.",
             responses={200: {"model": Created, "description": "Already on the roster: the same record"},
                        **problems(400, 409, 422)})
async def create_specialist(body: SpecialistIn, response: Response, runtime: ServiceRuntime = Depends(get_runtime),
                            _who: Principal = Depends(ROSTER)) -> Created:
    async with runtime.unit_of_work() as uow:
        specialist_id = await store.insert_specialist(uow.conn, _stored(body), body.status_reason)
        if specialist_id is None:
            known = await store.specialist_by_npi(uow.conn, body.npi)
            if known is None or (known["data"], known["status_reason"]) != (_stored(body), body.status_reason):
                raise HTTPException(409, "npi: a specialist with this NPI exists")
            response.status_code = 200
            return Created(id=known["id"])
    return Created(id=specialist_id)


@router.get("/specialists", summary="The roster, optionally by facility or status", responses=problems(400))
async def list_specialists(facility: str | None = None, status: str | None = None,
                           runtime: ServiceRuntime = Depends(get_runtime),
                           who: Principal = Depends(ROSTER)) -> list[SpecialistRead]:
    async with runtime.pool.acquire() as conn:
        rows = await store.list_specialists(conn, facility=facility, status=status)
    return [specialist_json(r, who) for r in rows]


async def _existing(conn, specialist_id: str, *, lock: bool = True):
    """The specialist or 404; the routes that write call this inside their unit of work (locked until commit)."""
    row = await store.get_specialist(conn, uuid_or_404(specialist_id), lock=lock)
    if row is None:
        raise HTTPException(404, "no such specialist")
    return row


async def specialist(specialist_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                     _who: Principal = Depends(ROSTER)):
    """Fetch or 404, for the routes that only read: unlocked, outside any transaction."""
    async with runtime.pool.acquire() as conn:
        return await _existing(conn, specialist_id, lock=False)


@router.get("/specialists/{specialist_id}", summary="One peer specialist", responses=problems(400, 404))
async def read_specialist(row=Depends(specialist), who: Principal = Depends(ROSTER)) -> SpecialistRead:
    return specialist_json(row, who)


@router.put("/specialists/{specialist_id}", summary="Replace a specialist's record; leave or inactive re-matches",
            responses=problems(400, 404, 409, 422))
async def update_specialist(specialist_id: str, body: SpecialistIn, request: Request,
                            runtime: ServiceRuntime = Depends(get_runtime),
                            who: Principal = Depends(ROSTER)) -> SpecialistRead:
    async with runtime.unit_of_work() as uow:
        row = await _existing(uow.conn, specialist_id)  # locked: a concurrent update waits here
        specialist_id = str(row["id"])
        owner = await store.npi_owner(uow.conn, body.npi)
        if owner and owner != specialist_id:
            raise HTTPException(409, "npi: another specialist has this NPI")
        await store.update_specialist(uow.conn, specialist_id, _stored(body), body.status_reason)
        if row["on_leave_since"] is not None and body.status == "active":
            await store_care.end_leave(uow.conn, specialist_id, uow.clock.now())  # back: the leave (issue 14) ends
        result = specialist_json(await store.get_specialist(uow.conn, specialist_id), who)
        if row["status"] == "active" and body.status != "active":
            service = request.app.state.service
            result.rematch = await service.specialist_unavailable(PairingUnitOfWork(uow), specialist_id)
    return result


def windows_of(shifts: list[ShiftIn], today) -> list[Window]:
    out: list[Window] = []
    for i, s in enumerate(shifts):
        if s.pattern is None:
            out.append(Window(s.facility, s.starts_at, s.ends_at))
            continue
        start = s.start or today
        try:
            out += expand(s.pattern, s.facility, start=start, until=s.until or start + timedelta(DEFAULT_HORIZON_DAYS),
                          start_time=s.start_time, days=tuple(s.days), zone=s.timezone)
        except ZoneInfoNotFoundError:
            raise HTTPException(422, f"{i}.timezone: unknown time zone") from None
        except ValueError as exc:
            raise HTTPException(422, f"{i}.until: {exc}") from None
    return out


@router.put("/specialists/{specialist_id}/shifts", summary="Replace a specialist's shifts (explicit or recurring)",
            responses=problems(400, 404, 422))
async def put_shifts(specialist_id: str, body: list[ShiftIn], runtime: ServiceRuntime = Depends(get_runtime),
                     _who: Principal = Depends(ROSTER)) -> ShiftsSet:
    async with runtime.unit_of_work() as uow:
        row = await _existing(uow.conn, specialist_id)
        for i, s in enumerate(body):
            if s.facility not in row["data"].get("facilities", []) and not row["data"].get("telehealth"):
                raise HTTPException(422, f"{i}.facility: not one of the specialist's facilities")
        windows = windows_of(body, uow.clock.now().date())
        await store.replace_shifts(uow.conn, str(row["id"]), windows)
    return ShiftsSet(id=str(row["id"]), shifts=len(windows))


@router.get("/specialists/{specialist_id}/shifts", summary="A specialist's shifts, expanded",
            responses=problems(400, 404))
async def get_shifts(row=Depends(specialist), runtime: ServiceRuntime = Depends(get_runtime)) -> list[ShiftRead]:
    async with runtime.pool.acquire() as conn:
        rows = await store.list_shifts(conn, str(row["id"]))
    return [ShiftRead(facility=r["facility"], starts_at=r["starts_at"].isoformat(), ends_at=r["ends_at"].isoformat())
            for r in rows]


@router.put("/specialists/{specialist_id}/recusals", summary="Replace the patients a peer must not serve",
            responses=problems(400, 404, 422))
async def put_recusals(specialist_id: str, body: list[RecusalIn], runtime: ServiceRuntime = Depends(get_runtime),
                       _who: Principal = Depends(ROSTER)) -> RecusalsSet:
    async with runtime.unit_of_work() as uow:
        row = await _existing(uow.conn, specialist_id)
        await store.replace_recusals(uow.conn, str(row["id"]), [store.patient_hash(r) for r in body])
        count = await store.count_recusals(uow.conn, str(row["id"]))
    # Only the count comes back: the identifiers are kept hashed.
    return RecusalsSet(id=str(row["id"]), recusals=count)


@router.get("/me", summary="The calling peer: caseload against the cap, pending offers, shifts from now on",
            responses=problems(404))
async def my_day(runtime: ServiceRuntime = Depends(get_runtime), who: Principal = Depends(PEER)) -> MyDay:
    if not who.specialist_id:
        raise HTTPException(403, "peer token is not bound to a specialist")
    async with runtime.pool.acquire() as conn:
        row = await store.get_specialist(conn, uuid_or_404(who.specialist_id))
        if row is None:
            raise HTTPException(404, "no such specialist")
        load = await store.load_of(conn, str(row["id"]))
        shifts = await store.list_shifts(conn, str(row["id"]), ending_after=runtime.clock.now())
    return MyDay(id=str(row["id"]), name=row["data"].get("name", ""), caseload_cap=row["data"].get("caseload_cap", 8),
                 open_cases=load["open_cases"], pending_offers=load["pending_offers"],
                 shifts=[ShiftRead(facility=r["facility"], starts_at=r["starts_at"].isoformat(),
                                   ends_at=r["ends_at"].isoformat()) for r in shifts])
