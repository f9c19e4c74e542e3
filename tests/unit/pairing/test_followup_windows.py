"""Follow-up as windows: plans, coded contacts, reminders when a window opens and before it closes, missed windows."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.contracts import CaseClosed, FollowUpWindowClosing, FollowUpWindowOpened
from services.pairing.domain.cases import follow_up_plan
from services.pairing.domain.programs import ProgramError, Programs
from services.pairing.service import Conflict, Recorded, Refused
from tests.unit.pairing.builders import NOW
from tests.unit.pairing.case_harness import days

pytestmark = pytest.mark.unit
BARC = [4, 5, 3, 6, 2, 4, 5, 5, 3, 4]  # total 41


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


async def run_deadlines(pairing, until) -> list:
    """The deadline loop, with the clock moved to `until`: every due deadline applied; the events taken."""
    pairing.clock.advance(seconds=(until - pairing.clock.now()).total_seconds())
    while await pairing.service.apply_due_deadline(pairing.uow):
        pass
    return pairing.uow.take()


def test_the_default_plan_has_a_window_around_each_touchpoint_and_a_reminder_a_day_before_each_close():
    plan = follow_up_plan(NOW, Programs.load().for_facility("F1"))
    assert [(t.due_at - NOW, t.opens_at - NOW, t.closes_at - NOW, t.closes_at - t.remind_at) for t in plan] == [
        (hours(72), hours(48), hours(96), hours(24)), (days(7), days(5), days(9), hours(24)),
        (days(30), days(23), days(37), hours(24)), (days(60), days(53), days(67), hours(24)),
        (days(90), days(83), days(97), hours(24))]


def test_windows_are_configured_per_program_and_overlapping_or_missing_widths_are_refused():
    programs = Programs.from_mapping({"facilities": {"F2": {
        "follow_up_hours": [24, 720], "follow_up_window_before_hours": [0, 72], "follow_up_window_after_hours": [
            12, 72], "follow_up_closing_reminder_hours": 2}}})
    plan = follow_up_plan(NOW, programs.for_facility("F2"))
    assert [(t.opens_at - NOW, t.closes_at - NOW, t.remind_at - NOW) for t in plan] == [
        (hours(24), hours(36), hours(34)), (days(27), days(33), days(33) - hours(2))]
    with pytest.raises(ProgramError, match="F3: the windows of the touchpoints at 72 h and 168 h overlap"):
        Programs.from_mapping({"facilities": {"F3": {"follow_up_window_after_hours": [100, 48, 168, 168, 168]}}})
    with pytest.raises(ProgramError, match="one width per touchpoint"):
        Programs.from_mapping({"defaults": {"follow_up_hours": [72, 168]}})


async def test_a_window_opening_and_closing_reminds_the_holding_peer_with_ids_only(pairing):
    peer = pairing.add_peer("a")
    await pairing.assigned()
    case = await pairing.case()
    events = await run_deadlines(pairing, NOW + hours(48))
    [opened] = events
    assert isinstance(opened, FollowUpWindowOpened)
    assert opened.model_dump() == {
        "case_id": str(case["id"]), "touchpoint_id": opened.touchpoint_id, "facility": "F1", "visit_number": "V1",
        "specialist_id": peer, "kind": "follow-up", "opens_at": NOW + hours(48), "closes_at": NOW + hours(96)}
    [closing] = await run_deadlines(pairing, NOW + hours(72))
    assert isinstance(closing, FollowUpWindowClosing) and closing.touchpoint_id == opened.touchpoint_id


async def test_a_window_closing_without_a_reached_contact_is_recorded_missed(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    await pairing.contact(NOW + hours(50), "no-answer")
    await pairing.contact(NOW + hours(60), "wrong-number")
    await run_deadlines(pairing, NOW + hours(96))
    first = (await pairing.store.touchpoints((await pairing.case())["id"]))[0]
    assert (first["outcome"], first["missed_at"], first["done_at"]) == ("missed", NOW + hours(96), None)


async def test_a_reached_window_is_not_reminded_before_its_close_nor_missed(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    await run_deadlines(pairing, NOW + hours(48))
    await pairing.contact(NOW + hours(49), "reached")
    assert await run_deadlines(pairing, NOW + hours(97)) == []
    plan = await pairing.plan()
    assert plan[0][2:] == (NOW + hours(49), "reached")


async def test_a_call_entered_after_its_window_closed_still_counts_for_that_window(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    await run_deadlines(pairing, NOW + hours(100))
    assert (await pairing.plan())[0][3] == "missed"
    await pairing.service.add_contact(pairing.uow, await pairing.case(), NOW + hours(90), "reached", "peer")
    assert (await pairing.plan())[0][2:] == (NOW + hours(90), "reached")


async def test_a_case_nobody_holds_gets_no_reminder_but_its_windows_are_still_missed(pairing):
    await pairing.indicate(arrived_at=(NOW - hours(13)).isoformat())  # too old to page: a follow-up case
    assert await run_deadlines(pairing, NOW + hours(97)) == []
    assert (await pairing.plan())[0][3] == "missed"


async def test_a_peer_on_leave_is_not_reminded_and_the_unreached_window_is_still_missed(pairing):
    peer = pairing.add_peer("a")
    await pairing.assigned()
    pairing.store.set_status(peer, "on-leave", "personal")
    assert await run_deadlines(pairing, NOW + hours(97)) == []
    assert (await pairing.plan())[0][3] == "missed"


async def test_a_reached_call_records_what_was_learned_and_a_barc10_score(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    await pairing.contact(NOW + days(6), "reached", learned=["entered-treatment", "moud-started"],
                          treatment_type="office-based-moud", barc10=BARC)
    [contact] = pairing.store.contact_rows
    assert (contact["learned"], contact["treatment_type"], contact["barc10"]) == (
        ["entered-treatment", "moud-started"], "office-based-moud", BARC)


@pytest.mark.parametrize("outcome, coded, field", [
    ("no-answer", {"learned": ["crisis"]}, "learned"),
    ("wrong-number", {"barc10": BARC}, "learned"),
    ("reached", {"learned": ["entered-treatment"]}, "treatment_type"),
    ("reached", {"treatment_type": "residential"}, "treatment_type"),
    ("reached", {"learned": ["moud-started", "moud-continued"]}, "learned"),
    ("reached", {"barc10": [7] + BARC[1:]}, "barc10"),
    ("reached", {"barc10": BARC[:9]}, "barc10"),
])
async def test_codes_that_contradict_each_other_are_refused_naming_the_field(pairing, outcome, coded, field):
    pairing.add_peer("a")
    await pairing.assigned()
    with pytest.raises(Refused, match=f"^{field}:"):
        await pairing.contact(NOW + days(2), outcome, **coded)
    assert pairing.store.contact_rows == []


@pytest.mark.parametrize("code, reason", [("declined-further-contact", "declined"), ("deceased", "deceased")])
async def test_declined_further_contact_or_deceased_ends_follow_up(pairing, code, reason):
    pairing.add_peer("a")
    await pairing.assigned()
    await pairing.contact(NOW + days(6), "reached", learned=[code])
    closed = pairing.uow.take()[-1]
    assert isinstance(closed, CaseClosed) and closed.reason == reason
    assert [o for *_, o in await pairing.plan()] == ["case-closed", "reached", "case-closed", "case-closed",
                                                      "case-closed"]
    assert await run_deadlines(pairing, NOW + days(100)) == []  # no reminders for a closed case


async def test_a_retried_coded_contact_is_found_and_another_at_that_time_is_refused(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    at = NOW + days(6)
    first = await pairing.contact(at, "reached", learned=["housing-linkage"], barc10=BARC)
    assert await pairing.contact(at, "reached", learned=["housing-linkage"], barc10=BARC) == Recorded(first.id,
                                                                                                      new=False)
    with pytest.raises(Conflict, match="another contact"):
        await pairing.contact(at, "reached", learned=["legal-linkage"])
    assert len(pairing.store.contact_rows) == 1


async def test_a_contact_in_the_future_is_refused(pairing):
    pairing.add_peer("a")
    await pairing.assigned()
    with pytest.raises(Refused, match="^at:"):
        await pairing.service.add_contact(pairing.uow, await pairing.case(), NOW + hours(1), "reached", "peer")
