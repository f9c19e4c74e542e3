"""Case rules without a database: the patient's preferences, a supervisor's assignment, re-matching."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.contracts import (NoPeerAvailable, PeerAssignmentAccepted,
                                PeerAssignmentOffered, PeerAssignmentWithdrawn)
from services.pairing.service import TRANSFER_NOTE, Conflict, Recorded, Refused
from tests.unit.pairing.builders import NOW

from tests.unit.pairing.case_harness import PREFERENCES, kinds

pytestmark = pytest.mark.unit


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
