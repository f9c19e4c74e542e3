"""Case rules without a database: consent, encounters and follow-up contacts."""
from __future__ import annotations

from datetime import date, timedelta, timezone

import pytest

from services.contracts import CaseClosed, ConsentRecorded, Credential, PeerAssignmentWithdrawn, PeerEncounterCompleted
from services.pairing.service import Conflict, Recorded, Refused
from tests.unit.pairing.builders import NOW

from tests.unit.pairing.case_harness import days, kinds

pytestmark = pytest.mark.unit


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
    # A contact 31 days on falls in the first re-offer call's window (30 days, give or take 7), not a cancelled one.
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

async def test_a_contact_counts_for_the_window_it_falls_in_not_the_earliest_open_one(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    # Windows by default: 72 h from 48 to 96 h; 7 days from 5 to 9 days.
    in_seven_day_window, in_72h_window = NOW + days(6), NOW + days(2)
    await pairing.contact(in_seven_day_window, "reached")
    await pairing.contact(in_72h_window, "no-answer")
    plan = await pairing.plan()
    # The 72-hour window had only an unanswered call: still open (the deadline loop records it missed at its close).
    assert [(done, outcome) for _, _, done, outcome in plan] == [
        (None, None), (in_seven_day_window, "reached"), (None, None), (None, None), (None, None)]
    windows = [t["id"] for t in await pairing.store.touchpoints((await pairing.case())["id"])]
    assert [(c["at"], c["outcome"], c["touchpoint_id"]) for c in await pairing.store.contacts(
        (await pairing.case())["id"])] == [(in_72h_window, "no-answer", windows[0]),
                                            (in_seven_day_window, "reached", windows[1])]


async def test_a_contact_between_windows_is_recorded_and_counts_for_none(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    await pairing.contact(NOW + days(12), "reached")  # after the 7-day window (to 9 days), before the 30-day (from 23)
    assert [outcome for *_, outcome in await pairing.plan()] == [None] * 5
    [contact] = await pairing.store.contacts((await pairing.case())["id"])
    assert contact["touchpoint_id"] is None


async def test_the_same_contact_again_is_a_repeat_and_another_outcome_at_that_time_is_refused(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    at = NOW + days(3)
    recorded = await pairing.contact(at, "left-message")
    assert await pairing.contact(at, "left-message") == Recorded(recorded.id, new=False)
    with pytest.raises(Conflict, match="another contact"):
        await pairing.contact(at, "reached")
    assert [outcome for *_, outcome in await pairing.plan()] == [None] * 5  # a message left reaches nobody


@pytest.mark.parametrize("outcome", ["deceased", "incarcerated"])
async def test_a_closing_outcome_closes_the_case_and_cancels_the_rest_of_the_plan(pairing, outcome):
    pairing.add_peer("a")
    await pairing.assigned()
    at = NOW + days(8)
    recorded = await pairing.contact(at, outcome)
    closed = pairing.uow.take()[-1]
    assert isinstance(closed, CaseClosed) and closed.reason == outcome
    # Nobody was reached in any window: every window still ahead or open is cancelled with the case.
    assert [o for *_, o in await pairing.plan()] == ["case-closed"] * 5
    # Sent again after it closed the case, the contact is found; a new one is refused.
    assert await pairing.contact(at, outcome) == Recorded(recorded.id, new=False)
    with pytest.raises(Conflict, match="case is closed"):
        await pairing.contact(at + days(1), "reached")
