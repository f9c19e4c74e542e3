"""Triggers on real PostgreSQL over a real MLLP socket: peer consult orders (ORM^O01, OMG^O19), the crisis flag,
and a cancelled discharge (A13) reopening the visit."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
import yaml

from services.intake.domain.hl7 import parse
from services.intake.feeds import feed_config
from services.intake.mllp import END, START, MllpServer
from services.intake.settings import RULES_DIR, IntakeSettings
from tests.integration.intake.conftest import make_receiver, outbox_events
from tests.support.stack import ROOT
from tests.support.samples import HL7_SAMPLES
from tests.unit.intake.messages import adt, order

pytestmark = pytest.mark.integration


@pytest.fixture
async def port(receiver):
    server = MllpServer(receiver.handle_frame, host="127.0.0.1", port=0, max_bytes=1 << 20, idle_seconds=5.0)
    await server.start()
    yield server.port
    await server.stop()


async def send(port: int, *frames: bytes) -> list:
    """Frames over one MLLP connection; the parsed ACK of each."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    acks = []
    for frame in frames:
        writer.write(START + frame + END)
        await writer.drain()
        acks.append(parse((await asyncio.wait_for(reader.readuntil(END), 20))[1:-2]))
    writer.close()
    return acks


async def visit_row(pool, visit_number: str = "V1001"):
    return await pool.fetchrow("SELECT status, peer_indicated, data FROM visits WHERE visit_number = $1",
                               visit_number)


async def event_data(pool, name: str) -> list[dict]:
    rows = await pool.fetch("SELECT envelope FROM outbox_events WHERE envelope->>'type' LIKE $1 ORDER BY seq",
                            f"%.{name}")
    return [r["envelope"]["data"] for r in rows]


@pytest.mark.parametrize("kind", ["ORM", "OMG"])
async def test_a_peer_consult_order_indicates_a_registered_visit_once(port, intake_pool, kind):
    first = order(kind, control_id=f"{kind}-1")
    registered, ordered, resent, again = await send(
        port, adt("A04", diagnoses=("S52.501A",)), first, first, order(kind, control_id=f"{kind}-2"))
    trigger = "O01" if kind == "ORM" else "O19"
    assert (ordered.get("MSA", 1), ordered.get("MSA", 2), ordered.get("MSH", 9, 2)) == ("AA", f"{kind}-1", trigger)
    assert [a.get("MSA", 1) for a in (registered, resent, again)] == ["AA", "AA", "AA"]
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "EdVisitUpdated", "PeerSupportIndicated"]
    [indicated] = await event_data(intake_pool, "PeerSupportIndicated")
    assert indicated["indications"] == [{"kind": "clinician-request", "code": "clinician-request",
                                         "rule": "peer-consult-order",
                                         "reason": "the ED team ordered a peer recovery consult"}]
    row = await visit_row(intake_pool)
    assert row["peer_indicated"] and row["data"]["trigger"] == trigger
    stored = await intake_pool.fetch("SELECT message_type, status, duplicates FROM messages ORDER BY received_at")
    assert sorted((r["message_type"], r["status"], r["duplicates"]) for r in stored if r["message_type"] != "ADT^A04") \
        == [(f"{kind}^{trigger}", "accepted", 0), (f"{kind}^{trigger}", "accepted", 1)]


async def test_an_order_before_the_registration_registers_the_ed_visit_indicated(port, intake_pool):
    [ack] = await send(port, order("OMG", visit_number="V-EARLY"))
    assert ack.get("MSA", 1) == "AA"
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "PeerSupportIndicated"]
    assert (await visit_row(intake_pool, "V-EARLY"))["peer_indicated"] is True


async def test_a_public_sample_registration_then_a_peer_consult_order_for_it(port, intake_pool):
    sample = (HL7_SAMPLES / "phin-syndromic-adt-a04.hl7").read_bytes()
    await send(port, sample, order("ORM", facility="OTHER REG MED CTR", visit_number="V20220217-00274"))
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "EdVisitUpdated", "PeerSupportIndicated"]
    row = await visit_row(intake_pool, "V20220217-00274")
    assert row["peer_indicated"] and row["data"]["age_years"] == 43  # the sample's facts are kept


async def test_orders_that_ask_for_no_peer_are_acknowledged_and_change_nothing(port, intake_pool):
    acks = await send(port, order("ORM", control="CA", control_id="CANCEL-1"), order("ORM", code="CBC"),
                      order("OMG", visit_number="V-WARD", patient_class="I", location="4W"))
    assert [(a.get("MSA", 1), a.get("MSA", 2)[:9]) for a in acks][0] == ("AA", "CANCEL-1")
    assert {a.get("MSA", 1) for a in acks} == {"AA"}
    assert await outbox_events(intake_pool) == []
    statuses = await intake_pool.fetch("SELECT status FROM messages")
    assert [r["status"] for r in statuses] == ["ignored"] * 3


async def test_a_peer_consult_order_without_a_visit_number_is_AE_with_err(port, intake_pool):
    [ack] = await send(port, order("ORM", visit_number=None, control_id="NOVISIT"))
    assert (ack.get("MSA", 1), ack.get("MSA", 2)) == ("AE", "NOVISIT")
    err = ack.first("ERR").fields
    assert err[2] == "PV1^1^19" and err[3].startswith("101^")
    assert (await intake_pool.fetchrow("SELECT status FROM messages"))["status"] == "error"
    assert await outbox_events(intake_pool) == []


async def test_intentional_self_harm_marks_the_visit_as_crisis_and_it_stays(port, intake_pool):
    await send(port, adt("A04", diagnoses=("T40.2X2A",), complaint="wants to kill myself"),
               adt("A08", diagnoses=("S52.501A",)))
    [registered, updated] = [*await event_data(intake_pool, "EdVisitRegistered"),
                             *await event_data(intake_pool, "EdVisitUpdated")]
    [indicated] = await event_data(intake_pool, "PeerSupportIndicated")
    for data in (registered, indicated, updated):
        assert data["crisis"] is True
        assert data["crisis_rules"] == ["crisis-self-harm-poisoning", "crisis-keyword"]
    row = await visit_row(intake_pool)
    assert row["data"]["crisis"] is True
    stored = str(row["data"]) + str(await intake_pool.fetch("SELECT envelope FROM outbox_events"))
    assert "kill" not in stored  # the complaint's words stay in the raw message store only


async def test_a_visit_without_crisis_codes_says_so(port, intake_pool):
    await send(port, adt("A04", diagnoses=("T40.2X1A",)))
    [indicated] = await event_data(intake_pool, "PeerSupportIndicated")
    assert indicated["crisis"] is False and "crisis_rules" not in indicated


async def test_a_cancelled_discharge_reopens_the_visit_once(port, intake_pool):
    await send(port, adt("A04"), adt("A03"))
    assert (await visit_row(intake_pool))["status"] == "discharged"
    await send(port, adt("A13"), adt("A13"))
    row = await visit_row(intake_pool)
    assert row["status"] == "registered" and row["peer_indicated"]
    assert [d.get("cancelled", False) for d in await event_data(intake_pool, "EdVisitDischarged")] == [False, True]
    [reopened] = (await event_data(intake_pool, "EdVisitDischarged"))[1:]
    assert (reopened["facility"], reopened["visit_number"]) == ("GENHOSP", "V1001")
    await send(port, adt("A03"))  # the patient leaves again: a discharge again
    assert [d.get("cancelled", False) for d in await event_data(intake_pool, "EdVisitDischarged")] == [False, True,
                                                                                                       False]
    assert (await visit_row(intake_pool))["status"] == "discharged"


async def test_a_cancelled_discharge_of_a_visit_intake_never_saw_registers_it_by_the_rules(port, intake_pool):
    [ack] = await send(port, adt("A13", visit_number="V-BACK", diagnoses=("T42.4X1A",)))
    assert ack.get("MSA", 1) == "AA"
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "PeerSupportIndicated"]
    row = await visit_row(intake_pool, "V-BACK")
    assert row["status"] == "registered" and row["data"]["indications"][0]["rule"] == "poisoning-benzodiazepines"


async def test_a_program_file_with_a_rule_switched_off_calls_no_peer_for_it(intake_pool, tmp_path):
    doc = yaml.safe_load((RULES_DIR / "default.yaml").read_text())
    next(r for r in doc["diagnoses"] if r["id"] == "poisoning-cannabis")["enabled"] = False
    program = tmp_path / "no-cannabis.yaml"
    program.write_text(yaml.safe_dump(doc))
    receiver = make_receiver(intake_pool, feed_config(IntakeSettings(rules_file=program)))
    await receiver.handle_frame(adt("A04", visit_number="V-CANNABIS", diagnoses=("T40.7X1A",)))
    await receiver.handle_frame(adt("A04", visit_number="V-COCAINE", diagnoses=("T40.5X1A",)))
    assert await outbox_events(intake_pool) == ["EdVisitRegistered", "EdVisitRegistered", "PeerSupportIndicated"]
    assert (await visit_row(intake_pool, "V-CANNABIS"))["peer_indicated"] is False


def test_intake_does_not_start_with_a_wrong_rule_file_and_says_where(tmp_path):
    program = tmp_path / "nj.yaml"
    program.write_text("program: nj\ndiagnoses:\n  - id: poisoning-opioids\n    enabled: sometimes\n"
                       "    category: opioid-poisoning\n    codes: [T40.1]\n    reason: opioid poisoning\n")
    env = {**os.environ, "INTAKE_RULES_FILE": str(program), "INTAKE_MLLP_ENABLED": "false"}
    done = subprocess.run([sys.executable, "-m", "services.intake"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"intake: rule file {program}: diagnoses[0] (poisoning-opioids).enabled: Input should be a valid boolean, "
        "unable to interpret input")
