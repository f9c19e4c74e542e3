"""Case rules without a database: consent, encounters, contacts, preferences, a supervisor's assignment, re-matching."""
from __future__ import annotations

from datetime import date, timedelta, timezone

import pytest

from services.contracts import (CaseClosed, ConsentRecorded, Credential, NoPeerAvailable, PeerAssignmentAccepted,
                                PeerAssignmentOffered, PeerAssignmentWithdrawn, PeerEncounterCompleted,
                                PeerSupportIndicated)
from services.pairing.domain.programs import Programs
from services.pairing.domain.shifts import Window
from services.pairing.service import TRANSFER_NOTE, Conflict, PairingService, Recorded, Refused
from services.runtime.clock import FixedClock
from tests.unit.pairing.builders import NOW, peer, visit_data
from tests.unit.pairing.fakes import FakeStore, FakeUnitOfWork

pytestmark = pytest.mark.unit
GRANTED = {"granted": True, "scope": "treatment-team", "accepts_support": True, "contact_ok": False}
CERTIFIED = [{"kind": "CPRS", "number": "N1", "state": "NJ", "expires_on": "2029-06-30"}]
PREFERENCES = {"pathways": [], "same_gender_peer": False, "language": None}


class Pairing:
    """The service with fakes at its boundaries; the use cases called as the routes call them."""

    def __init__(self):
        self.store, self.clock = FakeStore(), FixedClock(NOW)
        self.uow = FakeUnitOfWork(self.store, self.clock)
        self.service = PairingService(Programs.from_mapping({"defaults": {"supervisor": "charge-nurse-F1"}}))

    def add_peer(self, name: str, *, on_shift: bool = True, **overrides) -> str:
        shifts = [Window("F1", NOW - timedelta(hours=1), NOW + timedelta(hours=12))] if on_shift else []
        return self.store.add_specialist(peer(name, certifications=CERTIFIED, **overrides), shifts)

    async def indicate(self, visit_number: str = "V1", **overrides) -> dict:
        data = visit_data(visit_number=visit_number, **overrides)
        await self.service.open_case(self.uow, PeerSupportIndicated(**data))
        return await self.case(visit_number)

    async def case(self, visit_number: str = "V1") -> dict:
        return await self.store.case_of_visit("F1", visit_number)

    async def offer(self, visit_number: str = "V1") -> dict:
        [offer] = [a for a in self.store.assignments.values()
                   if a["visit_number"] == visit_number and a["status"] == "offered"]
        return await self.store.get_assignment(offer["id"])

    async def assigned(self, visit_number: str = "V1", **overrides) -> dict:
        """A case accepted by the peer it was offered to; the accepted assignment, the events taken."""
        await self.indicate(visit_number, **overrides)
        accepted = await self.service.accept(self.uow, await self.offer(visit_number))
        self.uow.take()
        return accepted

    async def plan(self, visit_number: str = "V1") -> list[tuple]:
        """The case's plan as the case view shows it: kind, due, done and outcome of each touchpoint."""
        case = await self.case(visit_number)
        return [(t["kind"], t["due_at"], t["done_at"], t["outcome"]) for t in await self.store.touchpoints(case["id"])]

    async def consent(self, assignment_id: str, **body) -> Recorded:
        """POST /assignments/{id}/consent: the row as it stands now."""
        return await self.service.consent(self.uow, await self.store.get_assignment(assignment_id), {**GRANTED, **body})

    async def encounter(self, assignment_id: str, started_at, ended_at, **body) -> Recorded:
        body = {"assignment_id": assignment_id, "started_at": started_at, "ended_at": ended_at,
                "modality": "in-person", "kind": "individual", "patient_at_home": None, "note": None, **body}
        return await self.service.record_encounter(self.uow, await self.store.get_assignment(assignment_id), body)

    async def contact(self, at, outcome: str, visit_number: str = "V1") -> Recorded:
        return await self.service.add_contact(self.uow, await self.case(visit_number), at, outcome, "peer-token")


@pytest.fixture
def pairing() -> Pairing:
    return Pairing()


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def days(n: float) -> timedelta:
    return timedelta(days=n)


# --- consent -------------------------------------------------------------------------------------------

async def test_a_consent_is_recorded_once_and_the_same_values_again_are_the_same_consent(pairing):
    pairing.add_peer("a")
    accepted = await pairing.assigned()
    pairing.clock.advance(minutes=30)
    first = await pairing.consent(accepted["id"])
    [event] = pairing.uow.take()
    assert first.new and isinstance(event, ConsentRecorded)
    assert (event.assignment_id, event.granted, event.scope, event.recorded_at) == (
        accepted["id"], True, "treatment-team", pairing.clock.now())
    pairing.clock.advance(minutes=1)
    assert await pairing.consent(accepted["id"]) == Recorded(first.id, new=False)
    assert pairing.uow.take() == []


async def test_a_revoked_consent_is_recorded_and_granting_again_after_it_is_new(pairing):
    pairing.add_peer("a")
    accepted = await pairing.assigned()
    granted = await pairing.consent(accepted["id"])
    pairing.clock.advance(minutes=5)
    revoked = await pairing.consent(accepted["id"], granted=False)
    pairing.clock.advance(minutes=5)
    again = await pairing.consent(accepted["id"])
    assert revoked.new and again.new and len({granted.id, revoked.id, again.id}) == 3
    assert [e.granted for e in pairing.uow.take()] == [True, False, True]


async def test_declining_support_without_contact_closes_the_case_and_a_repeat_finds_the_consent(pairing):
    pairing.add_peer("a")
    accepted = await pairing.assigned()
    declined = await pairing.consent(accepted["id"], accepts_support=False)
    recorded, withdrawn, closed = pairing.uow.take()
    assert isinstance(recorded, ConsentRecorded)
    assert isinstance(withdrawn, PeerAssignmentWithdrawn) and withdrawn.reason == "declined"
    assert isinstance(closed, CaseClosed) and closed.reason == "declined"
    assert (await pairing.case())["status"] == "closed"
    assert {outcome for *_, outcome in await pairing.plan()} == {"case-closed"}
    # The assignment is withdrawn since; the same answer sent again still finds its consent.
    assert await pairing.consent(accepted["id"], accepts_support=False) == Recorded(declined.id, new=False)
    assert pairing.uow.take() == []


async def test_declining_support_but_allowing_contact_turns_the_plan_into_re_offer_calls(pairing):
    pairing.add_peer("a")
    accepted = await pairing.assigned()
    pairing.clock.advance(hours=1)
    await pairing.consent(accepted["id"], accepts_support=False, contact_ok=True)
    assert kinds(pairing.uow.take()) == ["ConsentRecorded"]
    plan = await pairing.plan()
    assert [outcome for kind, _, _, outcome in plan if kind == "follow-up"] == ["declined-in-ed"] * 5
    assert [t for t in plan if t[0] == "re-offer"] == [("re-offer", pairing.clock.now() + days(30), None, None),
                                                       ("re-offer", pairing.clock.now() + days(90), None, None)]
    # The next contact ticks off the first re-offer call, not a cancelled follow-up.
    await pairing.contact(pairing.clock.now() + days(31), "reached")
    assert [t[3] for t in await pairing.plan() if t[0] == "re-offer"] == ["reached", None]
    assert (await pairing.case())["status"] == "assigned"


async def test_consent_for_an_offer_nobody_took_is_refused(pairing):
    pairing.add_peer("a")
    await pairing.indicate()
    with pytest.raises(Conflict, match="assignment is offered"):
        await pairing.consent((await pairing.offer())["id"])


# --- encounters ----------------------------------------------------------------------------------------

async def test_an_encounter_completes_the_assignment_and_tells_billing_the_peers_npi_and_credentials(pairing):
    chosen = pairing.add_peer("a")
    accepted = await pairing.assigned()
    pairing.clock.advance(hours=1)
    recorded = await pairing.encounter(accepted["id"], NOW + timedelta(minutes=10), NOW + timedelta(minutes=55),
                                       patient_at_home=False)
    [event] = pairing.uow.take()
    assert isinstance(event, PeerEncounterCompleted) and event.encounter_id == recorded.id
    assert (event.specialist_id, event.specialist_npi, event.specialist_name) == (
        chosen, pairing.store.specialists[chosen]["npi"], "Peer a")
    assert event.credentials == [Credential(kind="CPRS", state="NJ", expires_on=date(2029, 6, 30))]
    assert (event.minutes, event.modality, event.kind, event.patient_at_home) == (45, "in-person", "individual", False)
    assert (await pairing.store.get_assignment(accepted["id"]))["status"] == "completed"


async def test_an_encounter_is_recorded_once_per_assignment_and_start(pairing):
    pairing.add_peer("a")
    accepted = await pairing.assigned()
    pairing.clock.advance(hours=2)
    start, end = NOW + timedelta(minutes=10), NOW + timedelta(minutes=40)
    first = await pairing.encounter(accepted["id"], start, end)
    pairing.uow.take()
    # The same instants written in another offset are the same encounter.
    local = start.astimezone(timezone(timedelta(hours=-5)))
    assert await pairing.encounter(accepted["id"], local, end) == Recorded(first.id, new=False)
    with pytest.raises(Conflict, match="another encounter"):
        await pairing.encounter(accepted["id"], start, end + timedelta(minutes=5))
    assert pairing.uow.take() == []
    # Another start on the completed assignment is a second encounter.
    second = await pairing.encounter(accepted["id"], end + timedelta(minutes=20), end + timedelta(minutes=50))
    assert second.new and second.id != first.id
    assert kinds(pairing.uow.take()) == ["PeerEncounterCompleted"]


async def test_an_encounter_ending_in_the_future_is_refused_naming_the_field(pairing):
    pairing.add_peer("a")
    accepted = await pairing.assigned()
    with pytest.raises(Refused, match="^ended_at: "):
        await pairing.encounter(accepted["id"], NOW, NOW + timedelta(minutes=30))
    assert (await pairing.store.get_assignment(accepted["id"]))["status"] == "accepted"


# --- contacts ------------------------------------------------------------------------------------------

async def test_a_contact_ticks_off_the_earliest_open_touchpoint(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    first, second = NOW + days(2), NOW + days(6)
    await pairing.contact(second, "no-answer")
    await pairing.contact(first, "reached")
    plan = await pairing.plan()
    assert [(done, outcome) for _, _, done, outcome in plan] == [
        (second, "no-answer"), (first, "reached"), (None, None), (None, None), (None, None)]
    assert [(c["at"], c["outcome"]) for c in await pairing.store.contacts((await pairing.case())["id"])] == [
        (first, "reached"), (second, "no-answer")]


async def test_the_same_contact_again_is_a_repeat_and_another_outcome_at_that_time_is_refused(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    at = NOW + days(3)
    recorded = await pairing.contact(at, "left-message")
    assert await pairing.contact(at, "left-message") == Recorded(recorded.id, new=False)
    with pytest.raises(Conflict, match="another contact"):
        await pairing.contact(at, "reached")
    assert [outcome for *_, outcome in await pairing.plan()] == ["left-message", None, None, None, None]


@pytest.mark.parametrize("outcome", ["deceased", "incarcerated"])
async def test_a_closing_outcome_closes_the_case_and_cancels_the_rest_of_the_plan(pairing, outcome):
    pairing.add_peer("a")
    await pairing.assigned()
    at = NOW + days(10)
    recorded = await pairing.contact(at, outcome)
    closed = pairing.uow.take()[-1]
    assert isinstance(closed, CaseClosed) and closed.reason == outcome
    assert [o for *_, o in await pairing.plan()] == [outcome, "case-closed", "case-closed", "case-closed",
                                                      "case-closed"]
    # Sent again after it closed the case, the contact is found; a new one is refused.
    assert await pairing.contact(at, outcome) == Recorded(recorded.id, new=False)
    with pytest.raises(Conflict, match="case is closed"):
        await pairing.contact(at + days(1), "reached")


# --- preferences ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("preferences, next_peer", [(None, "english"), ({**PREFERENCES, "language": "pl"}, "polish")])
async def test_recorded_preferences_steer_the_next_offer(pairing, preferences, next_peer):
    pairing.add_peer("first", languages=["en"])
    peers = {"english": pairing.add_peer("english", languages=["en"], lived_experience=[]),
             "polish": pairing.add_peer("polish", languages=["pl", "en"], lived_experience=[])}
    case = await pairing.indicate(language="en")
    if preferences is not None:
        await pairing.service.set_preferences(pairing.uow, case, preferences)
    await pairing.service.decline(pairing.uow, await pairing.offer(), "busy")
    offered = pairing.uow.take()[-1]
    assert isinstance(offered, PeerAssignmentOffered) and offered.specialist_id == peers[next_peer]
    assert (await pairing.case())["preferences"] == preferences


async def test_preferences_of_a_closed_case_are_refused_unless_they_are_the_ones_recorded(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    asked = {**PREFERENCES, "pathways": ["SMART"], "same_gender_peer": True}
    await pairing.service.set_preferences(pairing.uow, await pairing.case(), asked)
    await pairing.service.close_as_asked(pairing.uow, await pairing.case(), "completed")
    await pairing.service.set_preferences(pairing.uow, await pairing.case(), asked)
    with pytest.raises(Conflict, match="case is closed"):
        await pairing.service.set_preferences(pairing.uow, await pairing.case(), PREFERENCES)
    assert (await pairing.case())["preferences"] == asked


# --- a supervisor's assignment -------------------------------------------------------------------------

async def test_a_supervisor_gives_an_escalated_case_to_a_peer_off_shift(pairing):
    chosen = pairing.add_peer("off-shift", on_shift=False)
    await pairing.indicate()
    assert kinds(pairing.uow.take()) == ["NoPeerAvailable"]
    pairing.clock.advance(minutes=20)
    recorded = await pairing.service.assign(pairing.uow, await pairing.case(), chosen, "call after 5pm")
    offered, accepted = pairing.uow.take()
    assert isinstance(offered, PeerAssignmentOffered) and offered.assignment_id == recorded.id
    assert offered.offered_at == offered.expires_at == pairing.clock.now() and offered.attempt == 1
    assert isinstance(accepted, PeerAssignmentAccepted)
    assert (accepted.specialist_id, accepted.specialist_npi) == (chosen, pairing.store.specialists[chosen]["npi"])
    case = await pairing.case()
    assert (case["status"], case["specialist_id"]) == ("assigned", chosen)
    assert [due for _, due, _, _ in await pairing.plan()] == [NOW + timedelta(hours=h)
                                                              for h in (72, 168, 720, 1440, 2160)]


async def test_assigning_the_case_again_to_its_holder_is_a_repeat_and_to_another_peer_a_conflict(pairing):
    chosen, other = pairing.add_peer("a", on_shift=False), pairing.add_peer("b", on_shift=False)
    await pairing.indicate()
    first = await pairing.service.assign(pairing.uow, await pairing.case(), chosen, None)
    pairing.uow.take()
    assert await pairing.service.assign(pairing.uow, await pairing.case(), chosen, None) == Recorded(first.id,
                                                                                                   new=False)
    with pytest.raises(Conflict, match="case is assigned"):
        await pairing.service.assign(pairing.uow, await pairing.case(), other, None)
    assert pairing.uow.take() == [] and len(await pairing.plan()) == 5


async def test_a_follow_up_case_given_to_a_peer_keeps_the_plan_it_opened_with(pairing):
    chosen = pairing.add_peer("a")
    await pairing.indicate(arrived_at=(NOW - timedelta(hours=13)).isoformat())
    plan = await pairing.plan()
    await pairing.service.assign(pairing.uow, await pairing.case(), chosen, None)
    assert await pairing.plan() == plan


async def test_a_case_cannot_be_given_to_a_peer_on_leave(pairing):
    away = pairing.add_peer("away", on_shift=False)
    pairing.store.set_status(away, "on-leave")
    await pairing.indicate()
    with pytest.raises(Refused, match="^specialist_id: "):
        await pairing.service.assign(pairing.uow, await pairing.case(), away, None)


# --- re-matching ---------------------------------------------------------------------------------------

async def test_a_peer_going_on_leave_hands_their_cases_to_peers_with_room_and_escalates_the_rest(pairing):
    leaving = pairing.add_peer("leaving")
    first = await pairing.assigned("V1", language="en")
    await pairing.assigned("V2", language="es")
    taker = pairing.add_peer("english-only", languages=["en"], caseload_cap=1)
    pairing.clock.advance(days=1)
    pairing.store.set_status(leaving, "on-leave")
    assert await pairing.service.specialist_unavailable(pairing.uow, leaving) == {"rematched": 1, "unassigned": 1}
    events = pairing.uow.take()
    assert kinds(events) == ["PeerAssignmentWithdrawn", "PeerAssignmentOffered", "PeerAssignmentAccepted",
                             "PeerAssignmentWithdrawn", "NoPeerAvailable"]
    assert [(e.visit_number, e.reason) for e in events if isinstance(e, PeerAssignmentWithdrawn)] == [
        ("V1", "re-matched"), ("V2", "re-matched")]
    moved, stranded = await pairing.case("V1"), await pairing.case("V2")
    assert (moved["status"], moved["specialist_id"]) == ("assigned", taker)
    assert (stranded["status"], stranded["specialist_id"]) == ("escalated", None)
    assert isinstance(events[-1], NoPeerAvailable) and events[-1].visit_number == "V2"
    [handed] = [a for a in pairing.store.assignments.values() if a["specialist_id"] == taker]
    assert (handed["status"], handed["attempt"], handed["transfer_note"]) == ("accepted", 2, TRANSFER_NOTE)
    # The follow-up plan the case had stays: the new peer picks it up.
    assert len(await pairing.plan("V1")) == 5
    with pytest.raises(Conflict, match="assignment is withdrawn"):
        await pairing.encounter(first["id"], NOW + timedelta(hours=1), NOW + timedelta(hours=2))


async def test_a_peer_going_on_leave_passes_their_open_offer_to_the_next_peer(pairing):
    leaving = pairing.add_peer("leaving")
    await pairing.indicate()
    pairing.uow.take()
    other = pairing.add_peer("other")
    pairing.store.set_status(leaving, "on-leave")
    assert await pairing.service.specialist_unavailable(pairing.uow, leaving) == {"rematched": 0, "unassigned": 0}
    withdrawn, offered = pairing.uow.take()
    assert isinstance(withdrawn, PeerAssignmentWithdrawn) and withdrawn.reason == "peer-unavailable"
    assert isinstance(offered, PeerAssignmentOffered) and (offered.specialist_id, offered.attempt) == (other, 2)


async def test_a_peer_whose_case_was_re_matched_records_no_more_encounters_for_it(pairing):
    leaving = pairing.add_peer("leaving")
    accepted = await pairing.assigned()
    pairing.clock.advance(hours=2)
    await pairing.encounter(accepted["id"], NOW + timedelta(minutes=10), NOW + timedelta(minutes=40))
    pairing.add_peer("taker")
    pairing.store.set_status(leaving, "inactive")
    await pairing.service.specialist_unavailable(pairing.uow, leaving)
    with pytest.raises(Conflict, match="passed to another peer"):
        await pairing.encounter(accepted["id"], NOW + timedelta(minutes=50), NOW + timedelta(minutes=80))


async def test_re_matching_honours_the_preferences_the_patient_recorded(pairing):
    leaving = pairing.add_peer("leaving", languages=["en", "pl"])
    await pairing.assigned()
    await pairing.service.set_preferences(pairing.uow, await pairing.case(), {**PREFERENCES, "language": "pl"})
    pairing.add_peer("english", languages=["en"])
    polish = pairing.add_peer("polish", languages=["pl", "en"], lived_experience=[])
    pairing.store.set_status(leaving, "on-leave")
    await pairing.service.specialist_unavailable(pairing.uow, leaving)
    assert (await pairing.case())["specialist_id"] == polish
