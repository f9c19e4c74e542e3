"""The envelope, keys, trace context and the event contracts."""
from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from services.runtime import contracts
from services.runtime.envelope import Envelope, new_event, partition_key, transport_headers
from services.runtime.errors import ContractError
from services.runtime.npi import is_valid_npi
from tests.support.when import iso, minutes_ago

pytestmark = pytest.mark.unit
# The contracts check that instants are RFC 3339, not when they are: any instant will do, so take the run's.
AT, LATER = iso(minutes_ago(0)), iso(minutes_ago(-10))


def test_caused_events_keep_correlation_and_trace():
    first = new_event("intake", "EdVisitRegistered", {"a": 1})
    second = new_event("pairing", "PeerAssignmentOffered", {"b": 2}, cause=first)
    assert second.correlationid == first.id and second.causationid == first.id
    assert second.traceparent.split("-")[1] == first.traceparent.split("-")[1]
    assert second.traceparent.split("-")[2] != first.traceparent.split("-")[2]
    assert second.type == "org.peerbridge.pairing.PeerAssignmentOffered" and second.name == "PeerAssignmentOffered"
    assert Envelope.from_bytes(second.to_bytes()) == second


def test_partition_key_is_stable_per_visit_and_names_no_one():
    key = partition_key("NJGEN", "V12345")
    assert key == partition_key("NJGEN", "V12345") != partition_key("NJGEN", "V12346")
    assert b"V12345" not in key and b"NJGEN" not in key


def test_headers_carry_type_id_and_trace_only():
    event = new_event("intake", "EdVisitRegistered", {"patient": "DOE^JANE"})
    headers = dict(transport_headers(event.id, event.type, event.traceparent))
    assert set(headers) == {"content-type", "ce_type", "ce_id", "traceparent"}
    assert b"DOE" not in b"".join(headers.values())


def test_every_event_schema_is_a_valid_json_schema():
    names = contracts.event_names()
    assert "PeerSupportIndicated" in names and "ClaimPrepared" in names
    for path in contracts.SCHEMA_DIR.glob("*.json"):
        Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_contract_violations_name_the_field_not_the_value():
    with pytest.raises(ContractError) as err:
        contracts.validate("EdVisitDischarged",
                           {"facility": "F", "visit_number": "SECRET-VN", "discharged_at": "yesterday"})
    assert "discharged_at" in str(err.value) and "SECRET-VN" not in str(err.value)
    contracts.validate("EdVisitDischarged",
                       {"facility": "F", "visit_number": "V1", "discharged_at": AT})


@pytest.mark.parametrize("npi,valid", [("1234567893", True), ("1234567890", False), ("123456789", False),
                                       ("12345678a3", False), ("1987654328", True)])
def test_npi_check_digit(npi, valid):
    assert is_valid_npi(npi) is valid


@pytest.mark.parametrize("name,data,field", [
    ("PeerAssignmentOffered", {"assignment_id": "not-a-uuid", "facility": "F", "visit_number": "V",
                               "specialist_id": "6f1c1f9e-8d2a-4c1e-9a43-2b7f0f7d2a10",
                               "offered_at": AT,
                               "expires_at": LATER}, "assignment_id"),
    ("PeerAssignmentAccepted", {"assignment_id": "6f1c1f9e-8d2a-4c1e-9a43-2b7f0f7d2a10", "facility": "F",
                                "visit_number": "V", "specialist_id": "6f1c1f9e-8d2a-4c1e-9a43-2b7f0f7d2a10",
                                "accepted_at": AT, "specialist_npi": "12345"}, "specialist_npi"),
    ("EdVisitCancelled", {"facility": "F", "visit_number": "V", "cancelled_at": AT,
                          "reason": "deleted"}, "reason"),
])
def test_formats_patterns_and_enums_are_enforced(name, data, field):
    with pytest.raises(ContractError) as err:
        contracts.validate(name, data)
    assert field in str(err.value)
