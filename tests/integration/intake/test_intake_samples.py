"""Every public sample message in shared/testdata/hl7 through the receiver: its ACK, stored status and events."""
from __future__ import annotations


import pytest

from services.intake.domain.hl7 import parse, split_segments
from tests.integration.intake.conftest import outbox_events
from tests.support.samples import HL7_SAMPLES

pytestmark = pytest.mark.integration
SAMPLES = HL7_SAMPLES

# file: (MSA-1 of the ACK or None when the sender asked for none, stored status, events)
EXPECTED = {
    "batch-fhs-adt-a04.hl7": (None, "ignored", []),
    "fhir-converter-ADT-A03-02.hl7": ("AA", "ignored", []),
    "fhir-converter-ADT-A04-01.hl7": ("AA", "ignored", []),
    "fhir-converter-ADT-A08-02.hl7": ("AA", "ignored", []),
    "fhir-converter-ADT-A11-02.hl7": ("AA", "ignored", []),
    "fhir-converter-ADT01-23.hl7": ("AA", "ignored", []),
    "fhir-converter-ADT04-251.hl7": ("AE", "error", []),
    "malformed-nhapi-fuzz-1.hl7": ("AR", "rejected", []),
    "nist-syndromic-adt-a03.hl7": ("AA", "accepted", ["EdVisitDischarged"]),
    "phin-syndromic-adt-a04.hl7": ("AA", "accepted", ["EdVisitRegistered"]),
}


def test_every_sample_file_has_an_expectation():
    assert sorted(p.name for p in SAMPLES.glob("*.hl7")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_sample_is_acknowledged_stored_and_announced_as_expected(name, receiver, intake_pool):
    code, status, events = EXPECTED[name]
    raw = (SAMPLES / name).read_bytes()
    reply = await receiver.handle_frame(raw)
    lines = split_segments(reply.decode())
    if lines[0].startswith("FHS"):
        assert lines[-2:] == ["BTS|0", "FTS|1"] and not any(s.startswith("MSA") for s in lines)
    else:
        ack = parse(reply)
        assert ack.get("MSA", 1) == code
        assert ack.get("MSA", 2) == (parse(raw).get("MSH", 10) if code != "AR" else "")
    assert [r["status"] for r in await intake_pool.fetch("SELECT status FROM messages")] == [status]
    assert await outbox_events(intake_pool) == events
