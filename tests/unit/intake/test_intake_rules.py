"""The default program's rules, what a visit's state does as messages arrive, and the replay command's arguments."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from services.contracts import Indication, Visit

from services.intake.domain.indications import evaluate, load_rules, normalise_icd10
from services.intake.domain.visits import decide_cancel, decide_discharge, decide_request, decide_visit
from services.intake.replay import main as replay_main
from services.intake.settings import RULES_DIR

pytestmark = pytest.mark.unit
RULES = load_rules(RULES_DIR / "default.yaml")


@pytest.mark.parametrize("code, indicated", [
    ("T40.1X1A", True), ("T401X1A", True), ("T40.4X1A", True), ("T40.6X1A", True), ("T40.1X1D", False),
    ("T40.5X1A", True), ("T40.7X1A", True), ("T40.5X5A", False), ("F11.20", True), ("F10.10", True), ("F17.210", False),
    ("F19.20", True), ("S52.501A", False),
])
def test_diagnoses_that_need_a_peer(code, indicated):
    assert bool(evaluate(RULES, [code], [])) is indicated


@pytest.mark.parametrize("text, keyword", [("Possible OD at home", "od"), ("NARCAN x2", "narcan"),
                                           ("opioid withdrawal", "withdrawal"), ("odd rash", None),
                                           ("overdosed?", None), ("periodontal pain", None)])
def test_complaint_keywords_match_whole_words_in_any_case(text, keyword):
    found = evaluate(RULES, [], [text])
    assert [i.code for i in found] == ([keyword] if keyword else [])


@pytest.mark.parametrize("code, kept", [("t40.1x1a", "T401X1A"), (" F11.20 ", "F1120"), ("A1", None),
                                        ("71596", None), ("F11.20.1.234", None), ("É112", None)])
def test_every_channel_keeps_an_icd10_code_without_its_dot_and_drops_what_is_not_one(code, kept):
    assert normalise_icd10(code) == kept


# The decisions compare a visit's times with each other, never with now: any fixed instant will do.
ARRIVED = datetime(2001, 11, 27, 10, tzinfo=timezone.utc)


def visit(*indications: Indication, **fields) -> Visit:
    return Visit(facility="F", visit_number="V", arrived_at=ARRIVED,
                 diagnoses=[], indications=list(indications), peer_indicated=bool(indications), **fields)


def names(decision) -> list[str]:
    return [event.name() for event in decision.events]


def at(hour: int, minute: int) -> datetime:
    return ARRIVED.replace(hour=hour, minute=minute)


def test_peer_support_is_announced_once_and_an_indication_is_never_withdrawn():
    opioid = Indication(kind="diagnosis", code="F1120", reason="opioid-related disorder")
    first = decide_visit(None, visit())
    assert names(first) == ["EdVisitRegistered"]
    second = decide_visit(first.record, visit(opioid))
    assert names(second) == ["EdVisitUpdated", "PeerSupportIndicated"]
    third = decide_visit(second.record, visit(bed="12"))
    assert names(third) == ["EdVisitUpdated"] and third.record.indications == [opioid]


def test_the_same_visit_sent_again_announces_nothing_but_keeps_the_latest_message():
    first = decide_visit(None, visit(message_id="m1"))
    again = decide_visit(first.record, visit(message_id="m2"))
    assert again.events == [] and again.record.message_id == "m2" and again.status == "registered"
    assert names(decide_visit(again.record, visit(bed="3"))) == ["EdVisitUpdated"]


def test_a_clinician_request_indicates_once():
    first = decide_request(visit(), "registered")
    assert names(first) == ["EdVisitUpdated", "PeerSupportIndicated"]
    assert decide_request(first.record, "registered").events == []


def test_discharge_and_cancel_happen_once_and_a_cancelled_discharge_reopens():
    done = decide_discharge("registered", visit(), at(12, 0))
    assert done.status == "discharged" and len(done.events) == 1
    assert decide_discharge("discharged", visit(), at(12, 0)).events == []
    undone = decide_discharge("discharged", visit(), at(12, 5), cancelled=True)
    assert undone.status == "registered" and undone.events[0].to_data()["cancelled"] is True
    merged = decide_cancel("registered", visit(), at(12, 10), merged_into="V2")
    assert merged.status == "merged" and merged.events[0].to_data()["merged_into"] == "V2"
    assert decide_cancel("merged", visit(), at(12, 11)).events == []


def test_the_events_carry_the_visit_as_written_on_the_wire():
    first = decide_visit(None, visit(Indication(kind="keyword", code="od", reason="overdose"), bed="3"))
    assert [e.to_data() for e in first.events] == [{
        "facility": "F", "visit_number": "V", "arrived_at": ARRIVED.isoformat(), "bed": "3",
        "diagnoses": [], "indications": [{"kind": "keyword", "code": "od", "reason": "overdose"}],
        "peer_indicated": True}] * 2


def test_the_replay_command_wants_an_id_or_a_status():
    for argv in ([], ["--id", "not-a-uuid"], ["--status", "accepted"],
                 ["--id", str(uuid.uuid4()), "--status", "error"]):
        with pytest.raises(SystemExit) as info:
            replay_main(argv)
        assert info.value.code == 2
