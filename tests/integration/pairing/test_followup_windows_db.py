"""Follow-up windows on real PostgreSQL: reminders through the outbox, missed windows by the deadline loop, coded
contacts, and migration 0007 giving windows to touchpoints planned before it."""
from __future__ import annotations

import shutil
import uuid
from datetime import timedelta

import asyncpg
import pytest

from services.pairing import store
from services.runtime.db import migrate
from tests.integration.pairing.conftest import MIGRATIONS
from tests.unit.pairing.builders import NOW

pytestmark = pytest.mark.integration


async def accepted_case(harness):
    await harness.add_peer("a")
    data = await harness.open_visit()
    [offer] = await harness.assignments(data)
    async with harness.uow() as uow:
        await harness.service.accept(uow, offer)
    return data, offer


async def test_windows_remind_through_the_outbox_and_an_unreached_one_is_missed_once(harness):
    data, offer = await accepted_case(harness)
    harness.clock.advance(hours=48)
    assert await harness.worker.process_due() == 1
    [opened] = await harness.events("FollowUpWindowOpened", data)
    assert opened["case_id"] == str(offer["case_id"]) and opened["specialist_id"] == str(offer["specialist_id"])
    assert set(opened) == {"case_id", "touchpoint_id", "facility", "visit_number", "specialist_id", "kind",
                           "opens_at", "closes_at"}
    harness.clock.advance(hours=48)  # closing reminder (72 h) and close (96 h)
    assert await harness.worker.process_due() == 2
    assert len(await harness.events("FollowUpWindowClosing", data)) == 1
    [first, *_] = await store.touchpoints(harness.pool, offer["case_id"])
    assert (first["outcome"], first["missed_at"]) == ("missed", NOW + timedelta(hours=96))
    assert await harness.worker.process_due() == 0


async def test_a_coded_contact_settles_its_window_and_no_closing_reminder_follows(harness):
    data, offer = await accepted_case(harness)
    harness.clock.advance(days=6)
    async with harness.uow() as uow:
        case = await store.get_case(uow.conn, offer["case_id"], lock=True)
        await harness.service.add_contact(uow, case, NOW + timedelta(days=6), "reached", "peer",
                                          learned=["entered-treatment"], treatment_type="outpatient",
                                          barc10=[6] * 10)
    harness.clock.advance(days=4)
    await harness.worker.process_due()
    plan = await store.touchpoints(harness.pool, offer["case_id"])
    assert [t["outcome"] for t in plan] == ["missed", "reached", None, None, None]
    closing = await harness.events("FollowUpWindowClosing", data)
    assert [e["touchpoint_id"] for e in closing] == [plan[0]["id"]]  # the 7-day window was reached: no reminder
    [contact] = await store.contacts(harness.pool, offer["case_id"])
    assert (contact["learned"], contact["treatment_type"], contact["barc10_total"], contact["touchpoint_id"]) == (
        ["entered-treatment"], "outpatient", 60, plan[1]["id"])


async def test_migration_0007_gives_earlier_touchpoints_windows_and_deadlines(database_url, tmp_path):
    schema = f"pairing_{uuid.uuid4().hex[:10]}"
    for path in sorted(MIGRATIONS.glob("000[1-6]_*.sql")):
        shutil.copy(path, tmp_path)
    await migrate(database_url, schema, tmp_path)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        case = uuid.uuid4()
        opened = await conn.fetchval("SELECT now() - interval '10 days'")
        await conn.execute("INSERT INTO cases (id, facility, visit_number, status, visit, opened_at) VALUES"
                           " ($1, 'F1', 'V1', 'assigned', '{}', $2)", case, opened)
        await conn.executemany("INSERT INTO touchpoints (case_id, kind, due_at) VALUES ($1, 'follow-up', $2)",
                               [(case, opened + timedelta(hours=h)) for h in (72, 168, 720)])
        assert (await migrate(database_url, schema, MIGRATIONS))[0] == f"{schema}:0007_followup_windows"
        rows = await conn.fetch("SELECT id, offset_hours, closes_at - opens_at AS width FROM touchpoints ORDER BY id")
        deadlines = await conn.fetch("SELECT touchpoint_id, kind FROM deadlines ORDER BY touchpoint_id, kind")
    finally:
        await conn.close()
    assert [(r["offset_hours"], r["width"]) for r in rows] == [
        (72, timedelta(days=2)), (168, timedelta(days=4)), (720, timedelta(days=14))]
    # Windows already closed get only their close (marked missed at once); the 30-day one, all three.
    assert [(d["touchpoint_id"], d["kind"]) for d in deadlines] == [
        (rows[0]["id"], "window-close"), (rows[1]["id"], "window-close"), (rows[2]["id"], "window-close"),
        (rows[2]["id"], "window-closing"), (rows[2]["id"], "window-open")]
