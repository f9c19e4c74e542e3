"""HL7 v2 messages through the receiver on real PostgreSQL: stored before the ACK, duplicates, outcomes, replay."""
from __future__ import annotations

import asyncio
import dataclasses
from datetime import tzinfo

import asyncpg
import pytest

from services.intake.feeds import feed_config
from services.intake.domain.hl7 import parse
from services.intake.replay import replay
from services.intake.settings import IntakeSettings
from tests.integration.intake.conftest import make_receiver, outbox_events
from tests.unit.intake.messages import ARRIVED, ARRIVED_TEXT, SENT_TEXT, adt, age_on

pytestmark = pytest.mark.integration


def msa(ack: bytes) -> list[str]:
    return parse(ack).first("MSA").fields


def err(ack: bytes) -> list[str]:
    return parse(ack).first("ERR").fields


async def test_the_ack_comes_after_the_message_and_its_events_are_stored(receiver, intake_pool):
    ack = await receiver.handle_frame(adt("A04", control_id="C-1"))
    assert msa(ack)[1:3] == ["AA", "C-1"]
    rows = await intake_pool.fetch("SELECT status, control_id, message_type, raw FROM messages")
    assert [(r["status"], r["control_id"], r["message_type"]) for r in rows] == [("accepted", "C-1", "ADT^A04")]
    assert bytes(rows[0]["raw"]) == adt("A04", control_id="C-1")
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "PeerSupportIndicated"]
    visit = await intake_pool.fetchrow("SELECT status, peer_indicated, data FROM visits")
    assert visit["peer_indicated"] and visit["data"]["language"] == "es"
    assert visit["data"]["age_years"] == age_on(ARRIVED.date())
    assert "19810314" not in str(visit["data"])


async def test_no_ack_is_given_when_the_message_cannot_be_stored(receiver, intake_pool):
    await intake_pool.close()
    with pytest.raises(asyncpg.InterfaceError):  # the pool is closed: nothing stored, so no ACK
        await receiver.handle_frame(adt("A04"))


async def test_a_resent_control_id_is_acknowledged_again_without_processing(receiver, intake_pool):
    first = await receiver.handle_frame(adt("A04", control_id="DUP-1"))
    again = await receiver.handle_frame(adt("A04", control_id="DUP-1"))
    assert msa(first)[1:3] == msa(again)[1:3] == ["AA", "DUP-1"]
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "PeerSupportIndicated"]
    row = await intake_pool.fetchrow("SELECT count(*) AS n, max(duplicates) AS d FROM messages")
    assert (row["n"], row["d"]) == (1, 1)


async def test_concurrent_resends_of_one_control_id_are_processed_once(receiver, intake_pool):
    acks = await asyncio.gather(*(receiver.handle_frame(adt("A04", control_id="RACE")) for _ in range(6)))
    assert {tuple(msa(a)[1:3]) for a in acks} == {("AA", "RACE")}
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "PeerSupportIndicated"]


async def test_the_same_control_id_from_another_sender_is_a_new_message(receiver, intake_pool):
    await receiver.handle_frame(adt("A04", facility="HOSPA", control_id="SAME"))
    await receiver.handle_frame(adt("A04", facility="HOSPB", control_id="SAME"))
    assert (await outbox_events(intake_pool)).count("EdVisitRegistered") == 2


async def test_an_ed_visit_without_a_visit_number_is_AE_with_the_field_named(receiver, intake_pool):
    ack = await receiver.handle_frame(adt("A04", visit_number=None, control_id="NOVN"))
    assert msa(ack)[1:3] == ["AE", "NOVN"]
    assert err(ack)[2] == "PV1^1^19" and err(ack)[3].startswith("101^")
    row = await intake_pool.fetchrow("SELECT status, error FROM messages")
    assert row["status"] == "error" and row["error"]["location"] == "PV1^1^19"
    assert await outbox_events(intake_pool) == []


@pytest.mark.parametrize("message, code", [
    (adt("A04", version="2.2"), "203"),
    (adt("A04", processing_id="D"), "202"),
    (b"this is not hl7 at all", "100"),
    (adt("A04", control_id="C" * 10_000), "102"),
])
async def test_unreadable_or_unaccepted_messages_are_AR_and_stored_as_rejected(receiver, intake_pool, message, code):
    ack = await receiver.handle_frame(message)
    assert msa(ack)[1] == "AR" and err(ack)[3].startswith(code + "^") and len(msa(ack)[2]) <= 199
    assert await intake_pool.fetchval("SELECT status FROM messages") == "rejected"


async def test_unused_message_types_and_non_ed_visits_are_AA_and_stored_as_ignored(receiver, intake_pool):
    for message in (adt("A28"), adt("A31"), adt("A04", patient_class="I", location="3WEST")):
        assert msa(await receiver.handle_frame(message))[1] == "AA"
    assert [r["status"] for r in await intake_pool.fetch("SELECT status FROM messages")] == ["ignored"] * 3
    assert await outbox_events(intake_pool) == []


async def test_enhanced_mode_answers_with_commit_codes_or_not_at_all(receiver):
    ack = await receiver.handle_frame(adt("A04", ack_modes=("AL", "NE")))
    assert msa(ack)[1] == "CA"
    assert await receiver.handle_frame(adt("A04", visit_number="V9", ack_modes=("NE", "NE"))) is None
    assert msa(await receiver.handle_frame(adt("A04", visit_number=None, ack_modes=("ER", "NE"))))[1] == "CE"


async def test_a_visit_lifecycle_emits_each_event_once(receiver, intake_pool):
    await receiver.handle_frame(adt("A04", diagnoses=("S52.501A",)))
    await receiver.handle_frame(adt("A08", diagnoses=("S52.501A", "F11.20")))
    await receiver.handle_frame(adt("A08", diagnoses=("F11.20",)))
    await receiver.handle_frame(adt("A03"))
    await receiver.handle_frame(adt("A03"))
    await receiver.handle_frame(adt("A13"))
    await receiver.handle_frame(adt("A11"))
    assert await outbox_events(intake_pool) == [
        "EdVisitRegistered", "EdVisitUpdated", "PeerSupportIndicated", "EdVisitUpdated", "EdVisitDischarged",
        "EdVisitDischarged", "EdVisitCancelled"]
    rows = await intake_pool.fetch("SELECT envelope FROM outbox_events WHERE envelope->>'type' LIKE '%Discharged'")
    assert [r["envelope"]["data"].get("cancelled", False) for r in rows] == [False, True]


async def test_a_merge_cancels_the_prior_visit_into_the_surviving_one(receiver, intake_pool):
    await receiver.handle_frame(adt("A04", visit_number="OLD1"))
    await receiver.handle_frame(adt("A40", visit_number="NEW1", extra=("MRG|MRN-OLD||||OLD1",)))
    row = await intake_pool.fetchrow("SELECT envelope FROM outbox_events WHERE envelope->>'type' LIKE '%Cancelled'")
    data = row["envelope"]["data"]
    assert (data["visit_number"], data["reason"], data["merged_into"]) == ("OLD1", "merged", "NEW1")


async def test_replay_applies_an_errored_message_once_and_records_lineage(receiver, intake_pool):
    raw = adt("A04", control_id="REPLAY-1")
    await intake_pool.execute(
        "INSERT INTO messages (id, received_at, channel, sending_app, sending_facility, control_id, status,"
        " ack_code, raw) VALUES (gen_random_uuid(), now(), 'mllp', 'EPICADT', 'GENHOSP', 'REPLAY-1', 'error',"
        " 'AE', $1)", raw)
    first = await replay(intake_pool, receiver, status="error")
    assert [(r["outcome"], r["already_applied"]) for r in first] == [("accepted", False)]
    again = await replay(intake_pool, receiver, message_id=first[0]["message_id"])
    assert [(r["outcome"], r["already_applied"]) for r in again] == [("accepted", True)]
    assert await replay(intake_pool, receiver, status="error") == []
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "PeerSupportIndicated"]
    lineage = await intake_pool.fetchval("SELECT count(*) FROM messages WHERE replay_of IS NOT NULL")
    assert lineage == 2


async def test_each_message_of_a_batch_is_stored_as_sent_in_its_own_character_set(receiver, intake_pool):
    name = "ANDR\u00c9"
    latin1 = adt("A04", visit_number="CS-1", control_id="CS-L1", charset="8859/1").replace(
        b"ALEX", name.encode("latin-1"))
    utf8 = adt("A04", visit_number="CS-2", control_id="CS-U1", charset="UNICODE UTF-8").replace(b"ALEX", name.encode())
    frame = b"FHS|^~\\&|EPICADT|GENHOSP\rBHS|^~\\&|EPICADT|GENHOSP\r" + latin1 + utf8 + b"BTS|2\rFTS|1\r"
    await receiver.handle_frame(frame)
    rows = await intake_pool.fetch("SELECT control_id, raw FROM messages ORDER BY control_id")
    assert [(r["control_id"], bytes(r["raw"])) for r in rows] == [("CS-L1", latin1), ("CS-U1", utf8)]


@pytest.mark.parametrize("message, location", [
    (adt("A04", control_id="TS-1").replace(b"|19810314|", b"|19800101+2400|"), "PID^1^7"),
    (adt("A04", control_id="TS-1").replace(b"EVN|A04|" + SENT_TEXT, b"EVN|A04|" + SENT_TEXT + b"+2400"), "EVN^1^2"),
    (adt("A04", control_id="TS-1").replace(ARRIVED_TEXT, ARRIVED_TEXT + b"+2400"), "PV1^1^44"),
    (adt("A04", control_id="TS-1", extra=("OBX|1|NM|21612-7^Age reported^LN||\u00b93|a^year^UCUM",)).replace(
        b"|19810314|", b"||"), "OBX^1^5"),
])
async def test_an_invalid_timestamp_or_age_is_AE_naming_the_field_and_the_message_is_kept(
        receiver, intake_pool, message, location):
    ack = await receiver.handle_frame(message)
    assert msa(ack)[1:3] == ["AE", "TS-1"]
    assert err(ack)[2] == location and err(ack)[3].startswith("102^")
    row = await intake_pool.fetchrow("SELECT status, error, raw FROM messages")
    assert (row["status"], row["error"]["location"], bytes(row["raw"])) == ("error", location, message)
    assert await outbox_events(intake_pool) == []


class BrokenZone(tzinfo):
    """A feed time zone that fails: stands in for any bug while a message is read."""

    def utcoffset(self, dt):
        raise RuntimeError("broken zone")


async def test_a_bug_while_reading_a_message_is_AE_207_and_the_message_is_kept_for_replay(intake_pool):
    broken = make_receiver(intake_pool, dataclasses.replace(feed_config(IntakeSettings()), timezone=BrokenZone()))
    ack = await broken.handle_frame(adt("A04", control_id="BUG-1"))
    assert msa(ack)[1:3] == ["AE", "BUG-1"] and err(ack)[3].startswith("207^")
    row = await intake_pool.fetchrow("SELECT status, result FROM messages")
    assert (row["status"], row["result"]) == ("error", {"error_class": "RuntimeError"})
    fixed = make_receiver(intake_pool)
    assert [r["outcome"] for r in await replay(intake_pool, fixed, status="error")] == ["accepted"]
