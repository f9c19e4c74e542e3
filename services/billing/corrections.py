"""Replacements (frequency 7, re-priced from the biller's edits) and voids (8) of claims the payer has."""
from __future__ import annotations

from dataclasses import dataclass

from services.contracts import PeerEncounterCompleted, Visit, parse
from services.runtime.outbox import UnitOfWork

from . import store
from .domain.claims import Usage, prepare, resolve, service_date
from .domain.rules import RuleBook
from .domain.units import period_start
from .service import Conflict, locked_claim

# Claims the payer holds (an original it acknowledged or adjudicated): these can be replaced or voided.
CORRECTABLE = ("exported", "accepted", "paid", "denied")


@dataclass(frozen=True)
class Edits:
    """What a biller corrects in a replacement: the session's minutes, the diagnoses (ICD-10-CM, principal first)."""

    minutes: int | None = None
    diagnoses: list[str] | None = None


@dataclass(frozen=True)
class Derived:
    """The replacement or void of a claim, and whether this call made it (False: an earlier call did)."""

    claim_id: str
    created: bool


async def derive(uow: UnitOfWork, book: RuleBook, claim_id: str, frequency: str,
                 edits: Edits | None = None) -> Derived:
    """A replacement (7) or void (8) of a claim the payer has; the original is marked replaced or voided."""
    claim = await locked_claim(uow.conn, claim_id)
    done = "replaced" if frequency == "7" else "voided"
    if claim["status"] == done:
        # A repeated request (a lost answer, a retry): the derived claim that exists, not a second one.
        existing = await store.derived_claim(uow.conn, claim_id, frequency)
        if existing is not None:
            return Derived(existing, created=False)
    if claim["status"] not in CORRECTABLE or claim["frequency"] == "8":
        raise Conflict(f"a claim in status {claim['status']} cannot be replaced or voided")
    if not claim["payer_claim_number"]:
        # REF*F8 must quote the payer's number for the original: without it the payer cannot find the claim.
        raise Conflict("the payer's claim control number is not known yet (it comes with the 277CA or the 835)")
    new_id = await store.insert_derived(uow.conn, claim, frequency)
    if frequency == "7":
        await _reprice(uow, book, claim, new_id, edits or Edits())
    await store.set_status(uow.conn, claim_id, done)
    return Derived(new_id, created=True)


async def _reprice(uow: UnitOfWork, book: RuleBook, original, new_id: str, edits: Edits) -> None:
    """Price the replacement from the original's session with the edits, under today's rules; refuse a held one."""
    visit_row = await store.get_visit(uow.conn, original["facility"], original["visit_number"])
    doc = original["document"]
    visit = parse(Visit, visit_row["data"])
    visit = visit.model_copy(update={"diagnoses": edits.diagnoses if edits.diagnoses is not None
                                     else doc["diagnoses"]})
    encounter = parse(PeerEncounterCompleted, original["encounter"])
    if edits.minutes is not None:
        encounter = encounter.model_copy(update={"minutes": edits.minutes})
    rs, unknown = resolve(book, visit, encounter)
    used = Usage()
    if rs is not None and original["member_id"]:
        await store.lock_member(uow.conn, rs.id, original["member_id"])
        day = service_date(encounter, rs.timezone)
        # The original is replaced (it counts no more) and the replacement is not stored yet: the rest count.
        used = await store.usage(uow.conn, payer=rs.id, member_id=original["member_id"], day=day,
                                 since=period_start(day, rs.caps), facility=original["facility"],
                                 visit_number=original["visit_number"], exclude=str(original["id"]))
    prepared = prepare(rs, visit, encounter, used, uow.clock.now(), unknown=unknown)
    if prepared.hold_reasons:
        raise Conflict("the edited claim would be held for: " + ", ".join(h.code for h in prepared.hold_reasons))
    await store.reprice_derived(uow.conn, new_id, prepared, encounter.to_data())
