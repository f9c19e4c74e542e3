"""Duplicates on real PostgreSQL: a resend is the same sender, control id and content; a reused id is a new message."""
from __future__ import annotations

import asyncio
import shutil
import uuid

import pytest
from prometheus_client import REGISTRY

from services.intake.domain.hl7 import parse
from services.runtime.db import create_pool, migrate
from tests.integration.intake.conftest import MIGRATIONS, headers, make_receiver, outbox_events
from tests.unit.intake.messages import adt

pytestmark = pytest.mark.integration


def msa(ack: bytes) -> list[str]:
    return parse(ack).first("MSA").fields


def reused_count() -> float:
    return REGISTRY.get_sample_value("peerbridge_intake_control_id_reused_total", {"message_type": "ADT^A04"}) or 0


def batch(*messages: bytes) -> bytes:
    return (b"FHS|^~\\&|EPICADT|GENHOSP\rBHS|^~\\&|EPICADT|GENHOSP\r" + b"".join(messages)
            + f"BTS|{len(messages)}\rFTS|1\r".encode())


async def stored(pool) -> list[tuple[str, str, bool]]:
    rows = await pool.fetch("SELECT control_id, result->>'visit_number' AS visit, control_id_reused FROM messages"
                            " ORDER BY received_at, visit")
    return [(r["control_id"], r["visit"], r["control_id_reused"]) for r in rows]


async def test_a_control_id_reused_for_another_visit_is_processed_and_flagged(receiver, intake_pool):
    before = reused_count()
    first = await receiver.handle_frame(adt("A04", visit_number="RV-1", control_id="RESET-1"))
    receiver.clock.advance(seconds=60)
    second = await receiver.handle_frame(adt("A04", visit_number="RV-2", control_id="RESET-1"))
    assert msa(first)[1:3] == msa(second)[1:3] == ["AA", "RESET-1"]
    assert await intake_pool.fetchval("SELECT count(*) FROM visits") == 2
    assert (await outbox_events(intake_pool)).count("EdVisitRegistered") == 2
    assert await stored(intake_pool) == [("RESET-1", "RV-1", False), ("RESET-1", "RV-2", True)]
    assert reused_count() == before + 1


async def test_an_identical_resend_after_a_reused_id_is_still_a_duplicate(receiver, intake_pool):
    await receiver.handle_frame(adt("A04", visit_number="RV-1", control_id="RESET-2"))
    await receiver.handle_frame(adt("A04", visit_number="RV-2", control_id="RESET-2"))
    again = await receiver.handle_frame(adt("A04", visit_number="RV-2", control_id="RESET-2"))
    assert msa(again)[1:3] == ["AA", "RESET-2"]
    assert await intake_pool.fetchval("SELECT count(*) FROM messages") == 2
    assert await intake_pool.fetchval("SELECT duplicates FROM messages WHERE control_id_reused") == 1


async def test_reused_ids_in_one_shared_transaction_are_each_processed(receiver, intake_pool):
    acks = await asyncio.gather(*(receiver.handle_frame(adt("A04", visit_number=f"TX-{i}", control_id="SAME-ID"))
                                  for i in range(4)))
    assert [msa(a)[1] for a in acks] == ["AA"] * 4
    assert await intake_pool.fetchval("SELECT count(*) FROM visits") == 4
    flags = [r["control_id_reused"] for r in await intake_pool.fetch("SELECT control_id_reused FROM messages")]
    assert sorted(flags) == [False, True, True, True]


async def test_a_batch_reusing_a_control_id_applies_both_messages(receiver, intake_pool):
    ack = await receiver.handle_frame(batch(adt("A04", visit_number="B-1", control_id="BATCH-ID"),
                                            adt("A04", visit_number="B-2", control_id="BATCH-ID")))
    assert [line.split("|")[1] for line in ack.decode().split("\r") if line.startswith("MSA")] == ["AA", "AA"]
    assert await stored(intake_pool) == [("BATCH-ID", "B-1", False), ("BATCH-ID", "B-2", True)]


async def test_operators_list_the_messages_whose_control_id_was_reused(receiver, intake_pool, client):
    await receiver.handle_frame(adt("A04", visit_number="L-1", control_id="LIST-1"))
    await receiver.handle_frame(adt("A04", visit_number="L-2", control_id="LIST-1"))
    await receiver.handle_frame(adt("A04", visit_number="L-3", control_id="LIST-2"))
    flagged = await client.get("/messages?control_id_reused=true", headers=headers("admin"))
    assert flagged.status_code == 200
    assert [(m["control_id"], m["result"]["visit_number"], m["control_id_reused"]) for m in flagged.json()] == [
        ("LIST-1", "L-2", True)]
    others = await client.get("/messages?control_id_reused=false", headers=headers("admin"))
    assert sorted(m["result"]["visit_number"] for m in others.json()) == ["L-1", "L-3"]


async def test_operators_find_the_messages_sent_under_one_control_id(receiver, client):
    await receiver.handle_frame(adt("A04", visit_number="F-1", control_id="FIND-1"))
    await receiver.handle_frame(adt("A08", visit_number="F-1", control_id="FIND-1"))  # the id reused
    await receiver.handle_frame(adt("A04", visit_number="F-2", control_id="FIND-2"))
    found = await client.get("/messages", params={"control_id": "FIND-1"}, headers=headers("admin"))
    assert found.status_code == 200
    assert sorted((m["control_id"], m["message_type"], m["control_id_reused"]) for m in found.json()) == [
        ("FIND-1", "ADT^A04", False), ("FIND-1", "ADT^A08", True)]
    none = await client.get("/messages", params={"control_id": "FIND-9"}, headers=headers("admin"))
    assert none.status_code == 200 and none.json() == []


async def test_messages_stored_before_the_migration_are_still_recognised_when_resent(database_url, tmp_path):
    for path in sorted(MIGRATIONS.glob("000[1-3]_*.sql")):
        shutil.copy(path, tmp_path)
    schema = f"intake_{uuid.uuid4().hex[:8]}"
    await migrate(database_url, schema, tmp_path)
    old = adt("A04", visit_number="OLD-1", control_id="OLD-1")
    pool = await create_pool(database_url, schema, min_size=1, max_size=2)
    try:
        await pool.execute(
            "INSERT INTO messages (id, received_at, channel, sending_app, sending_facility, control_id, status,"
            " ack_code, raw, dedupe_key) VALUES (gen_random_uuid(), now(), 'mllp', 'EPICADT', 'GENHOSP', 'OLD-1',"
            " 'accepted', 'AA', $1, 'EPICADT|GENHOSP|OLD-1')", old)
        await migrate(database_url, schema, MIGRATIONS)
        receiver = make_receiver(pool)
        assert msa(await receiver.handle_frame(old))[1:3] == ["AA", "OLD-1"]
        row = await pool.fetchrow("SELECT count(*) AS n, max(duplicates) AS d FROM messages")
        assert (row["n"], row["d"]) == (1, 1)
    finally:
        await pool.close()
