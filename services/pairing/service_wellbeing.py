"""Peer wellbeing use cases (issue 14): supervision sessions, renewal warnings, and confidential leave with the
batch re-match of the peer's open cases (preview, then apply)."""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import structlog

from services.contracts import Visit, parse
from services.contracts.pairing import CredentialRenewalDue
from services.runtime.envelope import partition_key

from . import store_care
from .domain.credentials import renewals
from .domain.preferences import Preferences
from .domain.rematch import OpenCase, Transfer, rematch
from .domain.supervision import Standing, requirement, standing
from .ports import Row
from .service_cases import TRANSFER_NOTE, Conflict, Recorded

if TYPE_CHECKING:
    from .service import PairingService

log = structlog.get_logger("pairing.wellbeing")
SESSION_KEY = ("minutes", "topics")


def supervisor_of(service: PairingService, data: dict) -> str | None:
    """A peer's supervisor: the program's supervisor of the first facility they serve."""
    facilities = data.get("facilities") or []
    program = service.programs.for_facility(facilities[0]) if facilities else service.programs.defaults
    return program.supervisor


# --- supervision ----------------------------------------------------------------------------------------

async def record_session(uow, specialist: Row, body: dict) -> Recorded:
    """A supervision session; the same one (peer, supervisor, day, format) again is a repeat, with other minutes or
    topics a Conflict."""
    sid = str(specialist["id"])
    for attempt in range(2):
        known = await store_care.session_of(uow.conn, sid, body["supervisor"], body["held_on"], body["format"])
        if known is not None:
            if (known["minutes"], sorted(known["topics"])) != (body["minutes"], sorted(body["topics"])):
                raise Conflict("another session of this peer with this supervisor, day and format is recorded")
            return Recorded(str(known["id"]), new=False)
        if attempt == 0:
            made = await store_care.insert_session(uow.conn, sid, body, uow.clock.now())
            if made is not None:
                return Recorded(made)
    raise Conflict("the session changed while it was recorded")


def standing_of(service: PairingService, data: dict, sessions, today: date) -> Standing:
    facilities = data.get("facilities") or []
    programs = [service.programs.for_facility(f) for f in facilities] or [service.programs.defaults]
    hours, days = requirement(programs)
    return standing(sessions, today, hours, days)


# --- renewals -------------------------------------------------------------------------------------------

async def due_renewals(service: PairingService, conn, today: date, within_days: int | None = None) -> list:
    people = await store_care.specialists_for_renewal(conn)
    thresholds = service.programs.defaults.renewal_warning_days
    if within_days is not None:
        thresholds = tuple(sorted({*thresholds, within_days}))
    found = renewals([(p["id"], p["data"]) for p in people], today, thresholds)
    limit = within_days if within_days is not None else max(thresholds, default=0)
    supervisors = {p["id"]: supervisor_of(service, p["data"]) for p in people}
    return [(r, supervisors.get(r.specialist_id)) for r in found if r.days_left <= limit]


async def warn_renewals(service: PairingService, uow) -> int:
    """Tell each peer's supervisor (CredentialRenewalDue, through notify) once per credential, date and threshold
    crossed; the runtime's unit of work (these events are keyed by the specialist, not a visit)."""
    now = uow.clock.now()
    sent = 0
    for r, supervisor in await due_renewals(service, uow.conn, now.date()):
        if not await store_care.warn_once(uow.conn, r, now):
            continue
        await uow.emit(CredentialRenewalDue(specialist_id=r.specialist_id, credential=r.credential, kind=r.kind,
                                            due_on=r.due_on, days_left=r.days_left, threshold_days=r.threshold_days,
                                            supervisor=supervisor),
                       key=partition_key("specialist", r.specialist_id))
        sent += 1
    if sent:
        log.info("renewal_warnings", count=sent)
    return sent


# --- confidential leave ---------------------------------------------------------------------------------

async def start_leave(service: PairingService, uow, specialist: Row, body: dict, who: str) -> Recorded:
    """Put a peer on confidential leave (the reason for their supervisor only); their pending offers go to the next
    peer at once (an ED patient cannot wait for an approval), their cases wait for the supervisor's re-match. A leave
    already open is a repeat."""
    sid = str(specialist["id"])
    known = await store_care.open_leave(uow.conn, sid)
    if known is not None:
        return Recorded(str(known["id"]), new=False)
    if specialist["status"] != "active":
        raise Conflict(f"specialist is {specialist['status']}")
    now = uow.clock.now()
    supervisor = body.get("supervisor") or supervisor_of(service, specialist["data"]) or who
    leave_id = await store_care.start_leave(uow.conn, sid, since=now, reason=body["reason"], supervisor=supervisor,
                                            recorded_by=who)
    for offer in await uow.store.offers_of_specialist(sid):
        await service._withdraw(uow, offer, "peer-unavailable", now)
        await service.offer_next(uow, await uow.store.get_case(offer["case_id"], lock=True))
    log.info("leave_started", specialist_id=sid)
    return Recorded(leave_id)


async def end_leave(uow, specialist: Row) -> None:
    await store_care.end_leave(uow.conn, str(specialist["id"]), uow.clock.now())


async def leave_plan(service: PairingService, uow, specialist_id: str) -> tuple[list[Row], list[Transfer]]:
    """What the batch re-match would do now: each open case of the peer and where it would go (or nobody)."""
    now = uow.clock.now()
    cases = await uow.store.cases_of_specialist(specialist_id)
    roster = await service.roster(uow, now, with_shifts=False)
    open_cases = [OpenCase(str(c["id"]), parse(Visit, c["visit"]), specialist_id,
                           tuple(await uow.store.recused_for(c["patient_hash"])), Preferences.of(c["preferences"]))
                  for c in cases]
    return list(cases), rematch(roster, open_cases, service.programs.for_facility, now)


def plan_json(cases: list[Row], transfers: list[Transfer]) -> list[dict]:
    return [{"case_id": str(c["id"]), "facility": c["facility"], "to_specialist_id": t.specialist_id,
             "score": t.score, "eligible": t.explanation.get("eligible", 0)} for c, t in zip(cases, transfers)]


async def apply_leave_plan(service: PairingService, uow, specialist_id: str,
                           approved: list[dict] | None) -> list[dict]:
    """Apply the batch re-match; when the supervisor approved a preview, only that same plan (Conflict otherwise,
    so what moves is what they saw). A case nobody can take is escalated (kind `transfer`)."""
    cases, transfers = await leave_plan(service, uow, specialist_id)
    plan = plan_json(cases, transfers)
    if approved is not None:
        moves = {(m["case_id"], m["to_specialist_id"]) for m in plan}
        if moves != {(m["case_id"], m.get("to_specialist_id")) for m in approved}:
            raise Conflict("the re-match plan has changed since the preview: preview again")
    now = uow.clock.now()
    for case, transfer in zip(cases, transfers):
        for row in await uow.store.assignments_of_case(case["id"]):
            if row["status"] == "accepted" and str(row["specialist_id"]) == specialist_id:
                await service._withdraw(uow, row, "re-matched", now)
        if transfer.specialist_id is None:
            await uow.store.set_case(case["id"], specialist_id=None)
            await service.escalate(uow, case, "transfer", "no eligible peer with room to take over the case")
            continue
        await service.hand_over(uow, case, transfer.specialist_id,
                                {**transfer.explanation, "score": transfer.score, "transfer_note": TRANSFER_NOTE},
                                TRANSFER_NOTE)
    return plan
