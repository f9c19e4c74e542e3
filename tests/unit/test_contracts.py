"""The event catalogue hangs together: schemas, topics, handlers and the AsyncAPI document agree."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone

import pytest
import yaml
from pydantic import ValidationError

from services.contracts import PeerArrived, event_classes, parse, schemas
from services.runtime import asyncapi, contracts, topics
from services.runtime.consumer import typed
from services.runtime.plugins import discover
from services.runtime.envelope import new_event
from services.runtime.errors import ContractError, PoisonMessage
from tests.support.stack import ROOT

pytestmark = pytest.mark.unit


def test_every_event_schema_belongs_to_exactly_one_topic():
    on_topics = [e for events in topics.EVENTS.values() for e in events]
    assert sorted(on_topics) == contracts.event_names()


@pytest.mark.parametrize("service", list(discover()))
def test_services_handle_only_events_that_exist(service):
    runtime = discover()[service].create_app().state.runtime
    published_on = {e: t for t, events in topics.EVENTS.items() for e in events}
    for event in runtime.handled:
        assert event in published_on, f"{service} handles unknown event {event}"
        assert published_on[event] in runtime.subscriptions, f"{service} handles {event} but does not subscribe"


def test_committed_asyncapi_document_is_current():
    committed = yaml.safe_load((ROOT / "schemas" / "asyncapi.yaml").read_text())
    assert committed == asyncapi.build(), "run: .venv/bin/peerbridge asyncapi > schemas/asyncapi.yaml"


def lock() -> dict[str, str]:
    lines = (ROOT / "schemas" / "events.lock").read_text().splitlines()
    return dict(line.split() for line in lines if line and not line.startswith("#"))


def test_committed_schemas_are_the_ones_the_models_generate():
    for name, cls in event_classes().items():
        assert contracts.schema_path(name).read_text() == schemas.text(cls), \
            f"{name}: run .venv/bin/peerbridge schemas"
    assert {p.stem for p in contracts.SCHEMA_DIR.glob("*.json")} == set(event_classes())


REVISIONS = ROOT / "schemas" / "revisions"


def test_a_published_event_version_changes_only_by_optional_additions():
    pinned = lock()
    assert set(pinned) == set(event_classes()), "a new event is pinned in schemas/events.lock when first published"
    for name, digest in pinned.items():
        if schemas.fingerprint(event_classes()[name]) == digest:
            continue
        kept = REVISIONS / f"{name}.pinned.json"
        assert kept.exists() and hashlib.sha256(kept.read_bytes()).hexdigest() == digest, \
            f"{name} changed: keep its pinned schema as {kept.relative_to(ROOT)} (git show) to prove compatibility"
        problems = schemas.incompatibilities(json.loads(kept.read_text()), schemas.document(event_classes()[name]))
        assert problems == [], f"{name} is published: make a breaking change a new event version (a new topic)"


def test_only_optional_fields_with_defaults_may_be_added_to_a_published_event():
    pinned = schemas.document(PeerArrived)
    assert schemas.incompatibilities(pinned, pinned) == []
    added = json.loads(json.dumps(pinned))
    added["properties"]["note"] = {"type": "string", "default": None}
    assert schemas.incompatibilities(pinned, added) == []
    for change, expected in [
        (lambda d: d["properties"].pop("arrived_at"), "event.arrived_at: removed"),
        (lambda d: d["properties"]["arrived_at"].update(type="integer"), "event.arrived_at: changed"),
        (lambda d: d["properties"].update(note={"type": "string"}), "event.note: added without a default"),
        (lambda d: d["required"].append("note"), "event: required fields changed"),
    ]:
        broken = json.loads(json.dumps(pinned))
        change(broken)
        assert expected in schemas.incompatibilities(pinned, broken)


ASSIGNMENT, SPECIALIST = str(uuid.uuid4()), str(uuid.uuid4())


def arrival(**extra) -> dict:
    return {"assignment_id": ASSIGNMENT, "facility": "F1", "visit_number": "V1", "specialist_id": SPECIALIST,
            "arrived_at": "2001-02-03T04:05:06+00:00", **extra}


def test_what_we_publish_is_strict_and_what_we_read_is_tolerant():
    with pytest.raises(ValidationError):
        PeerArrived(**arrival(bed="12"))  # a field the contract does not have is refused when built
    read = parse(PeerArrived, arrival(bed="12"))  # and left out when read from an older or newer producer
    assert read.arrived_at == datetime(2001, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    assert read.to_data() == arrival()  # written back exactly as it came, in the same instant format
    contracts.validate("PeerArrived", read.to_data())


def test_data_that_does_not_fit_its_model_is_a_contract_error_for_the_dead_letter_topic():
    event = new_event("pairing", "PeerArrived", {**arrival(), "arrived_at": "yesterday"})
    with pytest.raises(ContractError) as err:
        typed(PeerArrived, event)
    assert "arrived_at" in str(err.value) and "yesterday" not in str(err.value)
    assert isinstance(err.value, PoisonMessage)


def test_checking_an_event_leaves_its_data_as_it_was():
    data = {"facility": "F1", "visit_number": "V1", "discharged_at": "2001-02-03T04:05:06+00:00"}
    contracts.validate("EdVisitDischarged", data)
    assert data == {"facility": "F1", "visit_number": "V1", "discharged_at": "2001-02-03T04:05:06+00:00"}
