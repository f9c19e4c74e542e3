"""Billing's use cases: keep visits and claims current, approve or hold a claim, replace or void it, export a batch."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg
import structlog

from services.contracts import BatchExported, ClaimHeld, ClaimPrepared, PeerEncounterCompleted, Visit, parse
from services.runtime.outbox import UnitOfWork

from . import store
from .domain.checks import export_holds
from .domain.claims import Hold, Prepared, Usage, prepare, resolve, service_date
from .domain.facility import ServiceFacility
from .domain.fhir import build_claim
from .domain.rules import RuleBook
from .domain.subscriber import Subscriber
from .domain.units import period_start
from .intake import IntakeClient
from .intake import Visit as VisitKey
from .store import VisitEvent
from .validate837 import InvalidClaimFile, validate_837
from .x12 import BillingProvider, Interchange, write_837

log = structlog.get_logger("billing")
NO_DEMOGRAPHICS = "no-subscriber-demographics"
# Holds a biller may lift by approving: the facts are checked again when the claim is batched.
# So are those made at export that a later fact lifts: a facility registered, the day arrived, a 277CA received.
APPROVABLE_HOLDS = ("manual", NO_DEMOGRAPHICS, "no-service-facility", "future-date-of-service",
                    "no-payer-claim-number")


class Conflict(Exception):
    """The claim is not in a state that allows the action."""


class Unpriced(Exception):
    """The claim has no priced line yet (awaiting the visit's data)."""


@dataclass(frozen=True)
class Context:
    """What the use cases need besides the database: rules, the billing provider, interchange ids."""

    book: RuleBook
    provider: BillingProvider
    submitter_id: str
    receiver_id: str
    receiver_name: str
    intake: IntakeClient | None = None
    usage: str = "T"
    pyx12: bool = True


@dataclass(frozen=True)
class BatchResult:
    """The exported batch (None when no claim could go out) and the claims held for missing subscriber data."""

    batch_id: str | None
    claim_count: int
    held: int


async def record_visits(book: RuleBook, events: list[tuple[VisitEvent, UnitOfWork]]) -> None:
    """Keep each visit's billing facts current and re-evaluate its claims that are not yet approved. A run of visit
    events takes one statement when none of its visits has such claims (as almost none has: the encounter comes
    later); a visit that has them gets its events applied one at a time, in order, so each is priced as before."""
    busy = await store.keep_visits(events[0][1].conn, [visit for visit, _ in events])
    for visit, uow in events:
        if (visit.facility, visit.visit_number) in busy:
            await store.upsert_visit(uow.conn, visit)
            await _reevaluate(uow, book, visit.facility, visit.visit_number)


async def cancel_visit(uow: UnitOfWork, book: RuleBook, facility: str, visit_number: str) -> None:
    """A cancelled or merged visit holds its claims that have not gone out."""
    await store.cancel_visit(uow.conn, facility, visit_number)
    await _reevaluate(uow, book, facility, visit_number)


async def record_encounter(uow: UnitOfWork, book: RuleBook, encounter: PeerEncounterCompleted) -> None:
    """A completed peer session becomes one claim, however often and under however many encounter ids."""
    claim = await store.insert_claim(uow.conn, encounter)
    if claim is not None:
        await evaluate(uow, book, claim)
        return
    existing = await store.claim_of(uow.conn, encounter)
    if existing is not None and existing["encounter_id"] != uuid.UUID(encounter.encounter_id):
        # A second encounter id for a session already claimed: worth a trace, unlike a plain redelivery.
        log.info("encounter_ignored_duplicate_session", encounter_id=encounter.encounter_id,
                 claim_id=str(existing["id"]), claim_encounter_id=str(existing["encounter_id"]))


async def _reevaluate(uow: UnitOfWork, book: RuleBook, facility: str, visit_number: str) -> None:
    for claim in await store.claims_to_reevaluate(uow.conn, facility, visit_number):
        await evaluate(uow, book, claim)


async def evaluate(uow: UnitOfWork, book: RuleBook, claim: asyncpg.Record) -> None:
    """(Re)prepare a claim from its encounter and the visit's current facts; emit when the outcome changes."""
    conn = uow.conn
    visit_row = await store.get_visit(conn, claim["facility"], claim["visit_number"])
    if visit_row is None or (not visit_row["cancelled"] and not _has_facts(visit_row)):
        return  # the visit's facts have not arrived yet: stay awaiting-visit until they do
    # A visit cancelled before its facts arrived is only billing's marker row: no Visit to read.
    visit = parse(Visit, visit_row["data"]) if _has_facts(visit_row) else None
    encounter = parse(PeerEncounterCompleted, claim["encounter"])
    rs, unknown = resolve(book, visit, encounter)
    used = Usage()
    member_id = visit.payer.member_id if visit and visit.payer else None
    if rs is not None and member_id:
        await store.lock_member(conn, rs.id, member_id)
        day = service_date(encounter, rs.timezone)
        used = await store.usage(conn, payer=rs.id, member_id=member_id, day=day, since=period_start(day, rs.caps),
                                 facility=claim["facility"], visit_number=claim["visit_number"],
                                 exclude=str(claim["id"]))
    prepared = prepare(rs, visit, encounter, used, uow.clock.now(), unknown=unknown)
    if visit_row["cancelled"]:
        prepared.status = "held"
        prepared.hold_reasons.append(Hold("visit-cancelled", "the ED visit was cancelled or merged"))
    before = (claim["status"], [h["code"] for h in claim["hold_reasons"]], claim["units"])
    await store.save_prepared(conn, str(claim["id"]), prepared)
    if before != (prepared.status, [h.code for h in prepared.hold_reasons], prepared.units):
        await emit_outcome(uow, claim, prepared)


def _has_facts(visit_row: asyncpg.Record) -> bool:
    """Whether the stored visit is a Visit (its facts arrived), not only the cancellation marker."""
    return "arrived_at" in visit_row["data"]


async def emit_outcome(uow: UnitOfWork, claim: asyncpg.Record, prepared: Prepared) -> None:
    claim_id = str(claim["id"])
    common = dict(claim_id=claim_id, facility=claim["facility"], visit_number=claim["visit_number"],
                  payer=prepared.payer or "unknown", plan_id=prepared.plan_id or None)
    if prepared.status == "held":
        await uow.emit(ClaimHeld(**common, reasons=[h.code for h in prepared.hold_reasons]))
        log.info("claim_held", claim_id=claim_id, reason_code=",".join(h.code for h in prepared.hold_reasons))
    else:
        await uow.emit(ClaimPrepared(**common, units=prepared.units, charge=str(prepared.charge)))
        log.info("claim_prepared", claim_id=claim_id)


async def approve(uow: UnitOfWork, claim_id: str) -> None:
    claim = await locked_claim(uow.conn, claim_id)
    if claim["status"] == "approved":
        return
    system_holds = [h["code"] for h in claim["hold_reasons"] if h["code"] not in APPROVABLE_HOLDS]
    if claim["status"] == "held" and system_holds:
        raise Conflict(f"the claim is held for: {', '.join(system_holds)}")
    if claim["status"] not in ("prepared", "held", "rejected"):
        raise Conflict(f"a claim in status {claim['status']} cannot be approved")
    await store.set_status(uow.conn, claim_id, "approved", hold_reasons=[], manual_hold=False)


async def hold(uow: UnitOfWork, claim_id: str, reason: str) -> None:
    """Hold a claim for a biller's reason; the same reason again (a retried request) changes nothing."""
    claim = await locked_claim(uow.conn, claim_id)
    manual = {"code": "manual", "detail": reason}
    if claim["status"] == "held" and claim["manual_hold"] and manual in claim["hold_reasons"]:
        return
    if claim["status"] not in ("prepared", "approved", "held", "awaiting-visit"):
        raise Conflict(f"a claim in status {claim['status']} cannot be held")
    reasons = [*claim["hold_reasons"], manual]
    await store.set_status(uow.conn, claim_id, "held", hold_reasons=reasons, manual_hold=True)
    await uow.emit(ClaimHeld(claim_id=claim_id, facility=claim["facility"], visit_number=claim["visit_number"],
                             payer=claim["payer"] or "unknown", reasons=[r["code"] for r in reasons]))


async def locked_claim(conn: asyncpg.Connection, claim_id: str) -> asyncpg.Record:
    claim = await store.get_claim(conn, claim_id, lock=True)
    if claim is None:
        raise LookupError(claim_id)
    return claim


def fhir_claim(ctx: Context, row: asyncpg.Record):
    """The stored claim as a FHIR R4 Claim; Unpriced while it has no line."""
    if not (row["document"] or {}).get("lines"):
        raise Unpriced(str(row["id"]))
    encounter = parse(PeerEncounterCompleted, row["encounter"])
    return build_claim({**dict(row), "id": str(row["id"])}, encounter, ctx.provider.npi, ctx.provider.name,
                       row["created_at"])


def claim_for_x12(row: asyncpg.Record, subscriber: Subscriber, facility: ServiceFacility | None = None) -> dict:
    """The writer's view of a stored claim, its subscriber and the ED where the session took place."""
    doc = row["document"]
    return {"claim_number": row["claim_number"], "frequency": row["frequency"],
            "original_claim_number": row["original_claim_number"], "member_id": row["member_id"],
            "payer_claim_number": row["original_payer_claim_number"], "facility": facility,
            "subscriber": subscriber, "diagnoses": doc["diagnoses"], "lines": doc["lines"],
            "rendering": doc["rendering"]}


def _write_and_check(claims: list[dict], ctx: Context, ic: Interchange) -> tuple[str, list[str]]:
    text = write_837(claims, ctx.provider, ic)
    return text, validate_837(text, structural=ctx.pyx12)


async def create_batch(pool: asyncpg.Pool, new_uow, ctx: Context, payer: str,
                       facility: str | None = None) -> BatchResult:
    """Fetch the subscribers of the payer's approved claims from intake, then export (IntakeUnavailable: nothing)."""
    async with pool.acquire() as conn:
        visits = await store.approved_visits(conn, payer, facility)
    if not visits:
        raise Conflict(f"no approved {payer} claims to export" + (f" for facility {facility}" if facility else ""))
    # Outside any transaction: no row stays locked while intake answers.
    subscribers = await ctx.intake.subscribers(visits)
    async with new_uow() as uow:
        return await export_batch(uow, ctx, payer, subscribers)


async def export_batch(uow: UnitOfWork, ctx: Context, payer: str,
                       subscribers: dict[VisitKey, Subscriber | list[str]]) -> BatchResult:
    """Hold claims whose subscriber is incomplete; gather the rest of the payer's approved claims into one 837P."""
    held = 0
    for (facility, visit_number), found in subscribers.items():
        if isinstance(found, Subscriber):
            continue
        reasons = [{"code": NO_DEMOGRAPHICS, "detail": "intake lacks the subscriber's " + ", ".join(found)}]
        for row in await store.hold_approved(uow.conn, payer, facility, visit_number, reasons):
            held += 1
            await uow.emit(ClaimHeld(claim_id=str(row["id"]), facility=facility, visit_number=visit_number,
                                     payer=payer, reasons=[NO_DEMOGRAPHICS], plan_id=row["plan_id"] or None))
            log.info("claim_held", claim_id=str(row["id"]), reason_code=NO_DEMOGRAPHICS)
    batch_id = str(uuid.uuid4())
    # Claims approved after the subscribers were fetched have none here: they stay approved for the next batch.
    complete = {visit: s for visit, s in subscribers.items() if isinstance(s, Subscriber)}
    claims = await store.take_approved(uow.conn, payer, batch_id, complete) if complete else []
    facilities = await store.facilities(uow.conn, sorted({c["facility"] for c in claims}))
    claims, refused = await _hold_unfit(uow, ctx, claims, facilities)
    held += refused
    if not claims:
        return BatchResult(None, 0, held)
    rs = ctx.book.latest(payer)
    control = await store.next_control_number(uow.conn)
    ic = Interchange(control, ctx.submitter_id, ctx.receiver_id, ctx.receiver_name, rs.payer.name, rs.payer.id,
                     rs.payer.claim_filing, uow.clock.now(), ctx.usage)
    views = [claim_for_x12(c, complete[(c["facility"], c["visit_number"])], facilities[c["facility"]])
             for c in claims]
    # Writing and validating are CPU work (pyx12 takes ~7 ms a claim): off the event loop.
    text, problems = await asyncio.to_thread(_write_and_check, views, ctx, ic)
    if problems:
        raise InvalidClaimFile(problems)
    await store.insert_batch(uow.conn, batch_id, payer, control, len(claims), text)
    await uow.emit(BatchExported(batch_id=batch_id, payer=payer, claim_count=len(claims),
                                 interchange_control_number=f"{control:09d}"), key=batch_id.encode())
    log.info("batch_exported", batch_id=batch_id, count=len(claims))
    return BatchResult(batch_id, len(claims), held)


async def _hold_unfit(uow: UnitOfWork, ctx: Context, claims: list, facilities: dict) -> tuple[list, int]:
    """Hold the taken claims that must not go out today (future date, units, credential, facility, REF*F8)."""
    fit, held = [], 0
    for c in claims:
        doc = c["document"]
        rs = ctx.book.resolve(c["payer"], date.fromisoformat(doc["service_date"]))
        holds = export_holds(rs=rs, document=doc, encounter=parse(PeerEncounterCompleted, c["encounter"]),
                             frequency=c["frequency"], facility_code=c["facility"],
                             facility=facilities.get(c["facility"]),
                             payer_claim_number=c["original_payer_claim_number"], now=uow.clock.now())
        if not holds:
            fit.append(c)
            continue
        held += 1
        await store.untake(uow.conn, c["id"], [{"code": h.code, "detail": h.detail} for h in holds])
        await uow.emit(ClaimHeld(claim_id=str(c["id"]), facility=c["facility"], visit_number=c["visit_number"],
                                 payer=c["payer"], reasons=[h.code for h in holds]))
        log.info("claim_held", claim_id=str(c["id"]), reason_code=",".join(h.code for h in holds))
    return fit, held
