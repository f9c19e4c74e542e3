"""Pairing's use cases after the page: consent, encounters, contacts, preferences, hand-overs and re-matching."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from services.contracts import (ConsentRecorded, Credential, Event, PeerAssignmentOffered, PeerEncounterCompleted,
                                Visit, parse)

from .domain.cases import follow_up_plan, re_offer_plan
from .domain.encounters import EncounterRefused, check_times
from .domain.preferences import Preferences
from .domain.rematch import OpenCase, rematch
from .ports import Row, Work

if TYPE_CHECKING:
    from .domain.programs import Programs

# An assignment its peer took: accepted, and completed once an encounter is recorded.
TAKEN = ("accepted", "completed")
# What makes a consent the same as the latest (a repeat); the signature image is kept, not compared.
CONSENT_KEY = ("granted", "scope", "accepts_support", "contact_ok")
TRANSFER_NOTE = ("Transferred from a peer who is no longer available. Review the follow-up plan and the"
                 " contacts so far before reaching out; introduce yourself as the patient's new peer.")
E = TypeVar("E", bound=Event)


class Conflict(Exception):
    """The assignment or case is not in a state that allows the action (HTTP 409)."""


class Refused(ValueError):
    """Input that cannot be true or names nothing usable; the text names the field (HTTP 422)."""


@dataclass(frozen=True)
class Recorded:
    """What a recording use case stored, or found stored already (`new` False: a repeat that changed nothing)."""

    id: str
    new: bool = True


def assignment_event(cls: type[E], row, **fields) -> E:
    """An event about the assignment in `row`, its common fields (assignment, visit, peer) taken from the row."""
    return cls(assignment_id=str(row["id"]), facility=row["facility"], visit_number=row["visit_number"],
               specialist_id=str(row["specialist_id"]), **fields)


class CaseUseCases:
    """Mixed into PairingService, whose dispatch rules (close_case, offer_next, escalate, _withdraw, roster,
    _accepted) these use cases end in."""

    programs: Programs

    async def consent(self, uow: Work, row: Row, body: dict) -> Recorded:
        """Record the patient's consent; declining support turns the plan into re-offer calls or closes the case.
        The same four values as the assignment's latest consent are a repeat."""
        # Before the status check: a consent that closed the case has withdrawn the assignment since.
        latest = await uow.store.latest_consent(row["id"])
        if latest is not None and all(latest[name] == body[name] for name in CONSENT_KEY):
            return Recorded(latest["id"], new=False)
        if row["status"] not in TAKEN:
            raise Conflict(f"assignment is {row['status']}")
        now = uow.clock.now()
        consent_id = await uow.store.insert_consent(str(row["id"]), body, now)
        await uow.emit(ConsentRecorded(facility=row["facility"], visit_number=row["visit_number"],
                                       assignment_id=str(row["id"]), granted=body["granted"], scope=body["scope"],
                                       recorded_at=now))
        if not body["accepts_support"]:
            case = await uow.store.get_case(row["case_id"], lock=True)
            if body["contact_ok"]:
                # Declined in the ED but open to a call: the follow-up plan becomes re-offer calls.
                await uow.store.cancel_touchpoints(case["id"], "declined-in-ed")
                await uow.store.add_touchpoints(case["id"],
                                                re_offer_plan(now, self.programs.for_facility(row["facility"])))
            else:
                await self.close_case(uow, case, "declined")
        return Recorded(consent_id)

    async def record_encounter(self, uow: Work, row: Row, body: dict) -> Recorded:
        """Record an encounter and tell billing (PeerEncounterCompleted); the same one again is a repeat."""
        known = await uow.store.encounter_started_at(row["id"], body["started_at"])
        if known is not None:
            if (known["ended_at"], known["modality"], known["kind"]) != (body["ended_at"], body["modality"],
                                                                         body["kind"]):
                raise Conflict("another encounter of this assignment starting at this time is recorded")
            return Recorded(str(known["id"]), new=False)
        try:
            check_times(body["started_at"], body["ended_at"], uow.clock.now(),
                        self.programs.for_facility(row["facility"]))
        except EncounterRefused as exc:
            raise Refused(str(exc)) from None
        if row["status"] not in TAKEN:
            raise Conflict(f"assignment is {row['status']}")
        case = await uow.store.get_case(row["case_id"])
        if case["specialist_id"] != row["specialist_id"]:
            raise Conflict("the case has passed to another peer")
        encounter_id = await uow.store.insert_encounter(str(row["id"]), body)
        await uow.store.set_assignment(row["id"], status="completed")
        specialist = await uow.store.get_specialist(row["specialist_id"])
        started_at, ended_at = body["started_at"], body["ended_at"]
        await uow.emit(assignment_event(
            PeerEncounterCompleted, row, encounter_id=encounter_id, specialist_npi=specialist["npi"],
            started_at=started_at, ended_at=ended_at, minutes=int((ended_at - started_at).total_seconds() // 60),
            modality=body["modality"], kind=body["kind"], patient_at_home=body.get("patient_at_home"),
            credentials=[Credential(kind=c["kind"], state=c.get("state"), expires_on=c["expires_on"])
                         for c in specialist["data"].get("certifications", [])],
            # billing names the rendering provider
            specialist_name=specialist["data"].get("name") or None))
        return Recorded(encounter_id)

    async def set_preferences(self, uow: Work, case: Row, preferences: dict) -> None:
        """Replace the patient's preferences; the same set again after the case closed is a repeat."""
        if case["status"] == "closed":
            if case["preferences"] == preferences:
                return
            raise Conflict("case is closed")
        await uow.store.set_preferences(case["id"], preferences, uow.clock.now())

    async def assign(self, uow: Work, case: Row, specialist_id: str, note: str | None) -> Recorded:
        """A supervisor gives an escalated or follow-up case to a peer; giving it again to its holder is a repeat."""
        held = await self.held_by(uow, case, specialist_id)
        if held is not None:
            return Recorded(held, new=False)
        if case["status"] not in ("escalated", "follow-up"):
            raise Conflict(f"case is {case['status']}")
        specialist = await uow.store.get_specialist(specialist_id)
        if specialist is None or specialist["status"] != "active":
            raise Refused("specialist_id: no active specialist with this id")
        return Recorded(await self.hand_over(uow, case, str(specialist["id"]),
                                             {"assigned_by": "supervisor", "from_status": case["status"]}, note))

    async def held_by(self, uow: Work, case: Row, specialist_id: str) -> str | None:
        """The taken assignment through which this peer holds the case now (so giving it to them again is a repeat)."""
        if case["status"] != "assigned" or str(case["specialist_id"]) != specialist_id:
            return None
        return await uow.store.taken_assignment(case["id"], specialist_id)

    async def hand_over(self, uow: Work, case: Row, specialist_id: str, explanation: dict, note: str | None) -> str:
        """Give the case to a peer directly (re-match or a supervisor's choice): an accepted assignment."""
        now = uow.clock.now()
        attempt = len(await uow.store.assignments_of_case(case["id"])) + 1
        assignment_id = await uow.store.insert_assignment(
            status="accepted", transfer_note=note, accepted_at=now, case_id=case["id"], specialist_id=specialist_id,
            facility=case["facility"], visit_number=case["visit_number"], attempt=attempt, offered_at=now,
            expires_at=now, explanation=explanation)
        if case["status"] != "assigned" and not await uow.store.touchpoints(case["id"]):
            await uow.store.add_touchpoints(
                case["id"], follow_up_plan(case["opened_at"], self.programs.for_facility(case["facility"])))
        await uow.store.set_case(case["id"], specialist_id=specialist_id, status="assigned")
        row = await uow.store.get_assignment(assignment_id)
        await uow.emit(assignment_event(PeerAssignmentOffered, row, offered_at=now, expires_at=now, attempt=attempt,
                                        crisis=True if case.get("crisis") else None))
        await uow.emit(await self._accepted(uow, row, now))
        return assignment_id

    async def specialist_unavailable(self, uow: Work, specialist_id: str) -> dict:
        """A peer went on leave or inactive: pass on their open offers, re-match their cases in one batch."""
        now = uow.clock.now()
        for offer in await uow.store.offers_of_specialist(specialist_id):
            await self._withdraw(uow, offer, "peer-unavailable", now)
            await self.offer_next(uow, await uow.store.get_case(offer["case_id"], lock=True))
        cases = await uow.store.cases_of_specialist(specialist_id)
        roster = await self.roster(uow, now, with_shifts=False)
        open_cases = [OpenCase(str(c["id"]), parse(Visit, c["visit"]), specialist_id,
                               tuple(await uow.store.recused_for(c["patient_hash"])),
                               Preferences.of(c["preferences"])) for c in cases]
        moved = 0
        for case, transfer in zip(cases, rematch(roster, open_cases, self.programs.for_facility, now)):
            for row in await uow.store.assignments_of_case(case["id"]):
                if row["status"] == "accepted" and str(row["specialist_id"]) == specialist_id:
                    await self._withdraw(uow, row, "re-matched", now)
            if transfer.specialist_id is None:
                await uow.store.set_case(case["id"], specialist_id=None)
                await self.escalate(uow, case, "transfer", "no eligible peer with room to take over the case")
                continue
            await self.hand_over(uow, case, transfer.specialist_id,
                                 {**transfer.explanation, "score": transfer.score, "transfer_note": TRANSFER_NOTE},
                                 TRANSFER_NOTE)
            moved += 1
        return {"rematched": moved, "unassigned": len(cases) - moved}
