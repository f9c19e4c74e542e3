"""The supervisor's board on PostgreSQL: crisis first then oldest, where each case stands, a re-match with its natural
key, a hand assignment refused without a reason to override a hard constraint, an escalation acknowledged once."""
from __future__ import annotations

import pytest

from services.pairing import store, store_board
from services.pairing.service import Conflict, Refused
from services.pairing.service_board import BoardUseCases
from tests.unit.pairing.builders import peer

pytestmark = pytest.mark.integration


async def board(harness, facility: str) -> list:
    async with harness.pool.acquire() as conn:
        return await store_board.board(conn, facility=facility)


async def case_of(harness, data: dict):
    async with harness.pool.acquire() as conn:
        return await store.case_of_visit(conn, data["facility"], data["visit_number"])


async def test_the_board_puts_crisis_first_then_the_oldest_and_says_whom_an_offer_went_to(harness):
    a = await harness.add_peer("A", "BRD1")
    older = await harness.open_visit("BRD1")
    harness.clock.advance(minutes=20)
    crisis = await harness.open_visit("BRD1", crisis=True, crisis_rules=["self-harm"])
    rows = await board(harness, "BRD1")
    assert [r["visit_number"] for r in rows] == [crisis["visit_number"], older["visit_number"]]
    assert [r["crisis"] for r in rows] == [True, False]
    assert rows[1]["assignment_status"] == "offered" and str(rows[1]["assigned_to"]) == a
    assert rows[1]["specialist_name"] == "Peer A"
    assert await board(harness, "ELSEWHERE") == []


async def test_a_rematch_offers_the_case_to_another_peer_once_and_refuses_a_stale_one(harness):
    a, b = await harness.add_peer("A", "BRD2"), await harness.add_peer("B", "BRD2")
    data = await harness.open_visit("BRD2")
    [first] = await harness.assignments(data)
    board_cases = BoardUseCases(harness.service)
    async with harness.uow() as uow:
        case = await store.get_case(uow.conn, (await case_of(harness, data))["id"], lock=True)
        moved = await board_cases.rematch(uow, case, "mismatch", "console:sup", str(first["id"]))
    assert moved.status == "offered" and moved.new
    assert moved.specialist_id == ({a, b} - {str(first["specialist_id"])}).pop()
    rows = await harness.assignments(data)
    assert [r["status"] for r in rows] == ["withdrawn", "offered"]
    assert rows[1]["explanation"]["rematch_reason"] == "mismatch"
    async with harness.uow() as uow:  # the same re-match again: what was done, nothing new
        case = await store.get_case(uow.conn, case["id"], lock=True)
        again = await board_cases.rematch(uow, case, "mismatch", "console:sup", str(first["id"]))
    assert (again.new, again.assignment_id) == (False, moved.assignment_id)
    assert len(await harness.assignments(data)) == 2
    assert len(await harness.events("PeerAssignmentOffered", data)) == 2
    async with harness.uow() as uow:  # from an assignment that is no longer the case's: refused
        case = await store.get_case(uow.conn, case["id"], lock=True)
        with pytest.raises(Conflict):
            await board_cases.rematch(uow, case, "mismatch", "console:sup", "00000000-0000-0000-0000-000000000000")
    async with harness.uow() as uow:  # nobody else eligible: escalated, with why
        case = await store.get_case(uow.conn, case["id"], lock=True)
        last = await board_cases.rematch(uow, case, "no-response", "console:sup", moved.assignment_id)
    assert last.status == "escalated" and last.excluded.get("not_recused") == 2
    assert (await case_of(harness, data))["status"] == "escalated"


async def test_a_hand_assignment_needs_a_reason_to_override_a_hard_constraint_and_keeps_it(harness):
    async with harness.uow() as uow:
        off = await store.insert_specialist(uow.conn, peer("Off", "BRD3"))  # serves BRD3, no shift
    data = await harness.open_visit("BRD3")  # nobody on shift: escalated
    case_id = (await case_of(harness, data))["id"]
    board_cases = BoardUseCases(harness.service)
    async with harness.uow() as uow:
        case = await store.get_case(uow.conn, case_id, lock=True)
        with pytest.raises(Refused, match="on_shift"):
            await board_cases.assign(uow, case, off, None, "console:sup")
    async with harness.uow() as uow:
        case = await store.get_case(uow.conn, case_id, lock=True)
        moved = await board_cases.assign(uow, case, off, "covering by phone", "console:sup")
    assert moved.overridden == ["on_shift"] and moved.status == "accepted"
    async with harness.pool.acquire() as conn:
        [action] = [a for a in await store_board.actions(conn, case_id) if a["kind"] == "assign"]
        assert (action["reason"], list(action["overridden"])) == ("covering by phone", ["on_shift"])
    async with harness.uow() as uow:  # giving it again to the same peer: a repeat
        case = await store.get_case(uow.conn, case_id, lock=True)
        again = await board_cases.assign(uow, case, off, None, "console:sup")
    assert (again.new, again.assignment_id) == (False, moved.assignment_id)


async def test_an_escalation_is_acknowledged_once_and_a_case_never_escalated_cannot_be(harness):
    await harness.add_peer("A", "BRD4")
    paged = await harness.open_visit("BRD4")
    escalated = await harness.open_visit("BRD5")  # no peer at BRD5
    board_cases = BoardUseCases(harness.service)
    async with harness.uow() as uow:
        with pytest.raises(Conflict):
            await board_cases.acknowledge(uow, await case_of(harness, paged), "console:sup")
    for expected in (True, False):
        async with harness.uow() as uow:
            found = await board_cases.acknowledge(uow, await case_of(harness, escalated), "console:sup")
        assert found["new"] is expected and found["acknowledged_by"] == "console:sup"
    [row] = await board(harness, "BRD5")
    assert row["acknowledged_by"] == "console:sup" and row["escalation_kind"] == "page"
