"""Frames that arrive together share a transaction: each still stored before its ACK, applied once and in order."""
from __future__ import annotations

import asyncio

import pytest

from services.intake.domain.hl7 import parse
from tests.integration.intake.conftest import outbox_events
from tests.unit.intake.messages import adt

pytestmark = pytest.mark.integration


def msa(ack: bytes) -> list[str]:
    return parse(ack).first("MSA").fields


async def transactions(pool) -> int:
    """How many transactions stored the messages (rows written by one transaction share its xmin)."""
    return await pool.fetchval("SELECT count(DISTINCT xmin::text) FROM messages")


async def test_concurrent_frames_share_commits_and_each_is_stored_and_acknowledged(receiver, intake_pool):
    frames = [adt("A04", visit_number=f"GC-{i}", control_id=f"GC-{i}") for i in range(40)]
    acks = await asyncio.gather(*(receiver.handle_frame(f) for f in frames))
    assert [msa(a)[1:3] for a in acks] == [["AA", f"GC-{i}"] for i in range(40)]
    assert await intake_pool.fetchval("SELECT count(*) FROM visits") == 40
    assert (await outbox_events(intake_pool)).count("EdVisitRegistered") == 40
    assert await transactions(intake_pool) < 40


async def test_resends_inside_one_shared_transaction_are_counted_and_applied_once(receiver, intake_pool):
    acks = await asyncio.gather(*(receiver.handle_frame(adt("A04", control_id="SAME-TX")) for _ in range(5)))
    assert {tuple(msa(a)[1:3]) for a in acks} == {("AA", "SAME-TX")}
    row = await intake_pool.fetchrow("SELECT count(*) AS n, sum(duplicates) AS d FROM messages")
    assert (row["n"], row["d"]) == (1, 4)
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "PeerSupportIndicated"]


async def test_messages_for_one_visit_in_one_transaction_see_each_other_in_order(receiver, intake_pool):
    def batch(*messages: bytes) -> bytes:
        body = b"".join(messages)
        return b"FHS|^~\\&|EPICADT|GENHOSP\rBHS|^~\\&|EPICADT|GENHOSP\r" + body + b"BTS|3\rFTS|1\r"

    ack = await receiver.handle_frame(batch(adt("A04", diagnoses=("S52.501A",)), adt("A08", diagnoses=("F11.20",)),
                                            adt("A03")))
    assert [line.split("|")[1] for line in ack.decode().split("\r") if line.startswith("MSA")] == ["AA"] * 3
    assert await transactions(intake_pool) == 1
    assert await outbox_events(intake_pool) == [
        "EdVisitRegistered", "EdVisitUpdated", "PeerSupportIndicated", "EdVisitDischarged"]
    visit = await intake_pool.fetchrow("SELECT status, peer_indicated FROM visits")
    assert (visit["status"], visit["peer_indicated"]) == ("discharged", True)


async def test_a_message_nothing_could_store_is_refused_without_failing_its_neighbours(receiver, intake_pool):
    corrupt = adt("A04", visit_number="BAD", control_id="NUL-1").replace(b"SPA", b"S\x00A")
    acks = await asyncio.gather(receiver.handle_frame(adt("A04", visit_number="N1", control_id="OK-1")),
                                receiver.handle_frame(corrupt),
                                receiver.handle_frame(adt("A04", visit_number="N2", control_id="OK-2")))
    assert [msa(a)[1:3] for a in acks] == [["AA", "OK-1"], ["AR", "NUL-1"], ["AA", "OK-2"]]
    rows = await intake_pool.fetch("SELECT control_id, status FROM messages ORDER BY control_id")
    assert [(r["control_id"], r["status"]) for r in rows] == [("NUL-1", "rejected"), ("OK-1", "accepted"),
                                                              ("OK-2", "accepted")]


async def test_a_frame_whose_processing_fails_is_kept_for_replay_and_its_neighbours_commit(receiver, intake_pool):
    # A database-side refusal of one visit stands in for any fault while applying a message.
    await intake_pool.execute("""
        CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.visit_number = 'BOOM' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse_boom BEFORE INSERT ON visits FOR EACH ROW EXECUTE FUNCTION refuse_boom();""")
    acks = await asyncio.gather(*(receiver.handle_frame(adt("A04", visit_number=v, control_id=v))
                                  for v in ("FINE-1", "BOOM", "FINE-2")))
    assert [msa(a)[1:3] for a in acks] == [["AA", "FINE-1"], ["AE", "BOOM"], ["AA", "FINE-2"]]
    assert parse(acks[1]).first("ERR").fields[3].startswith("207^")
    rows = await intake_pool.fetch("SELECT control_id, status, dedupe_key FROM messages ORDER BY control_id")
    assert [(r["control_id"], r["status"], r["dedupe_key"] is None) for r in rows] == [
        ("BOOM", "error", True), ("FINE-1", "accepted", False), ("FINE-2", "accepted", False)]
    assert (await outbox_events(intake_pool)).count("EdVisitRegistered") == 2
