"""Subscription criteria: what this server evaluates is parsed to one canonical form; the rest is refused by name."""
from __future__ import annotations

import pytest

from services.referral.domain.criteria import Criteria, CriteriaError, parse

pytestmark = pytest.mark.unit
PEER = "6F1C2D3E-0000-4000-8000-000000000001"
REFERRAL = "5e5e5e5e-0000-4000-8000-000000000005"


def test_task_by_status_owner_and_focus_combined_with_and_in_one_canonical_spelling():
    both = parse(f"Task?status=completed,accepted&owner=PractitionerRole/{PEER}")
    assert both == Criteria("Task", statuses=("accepted", "completed"), owners=(PEER.lower(),))
    assert both.canonical == f"Task?owner={PEER.lower()}&status=accepted,completed"
    assert parse(f"Task?owner={PEER}&status=accepted,completed").canonical == both.canonical   # same meaning
    focus = parse(f"Task?focus=ServiceRequest/{REFERRAL}")
    assert focus.focuses == (REFERRAL,) and focus.statuses is None
    assert parse("Task?status=accepted").canonical == "Task?status=accepted"   # what earlier versions stored
    assert parse("ServiceRequest?status=completed,revoked") == Criteria("ServiceRequest",
                                                                        statuses=("completed", "revoked"))


@pytest.mark.parametrize(("criteria", "says"), [
    ("Consent?status=active", "resource type not supported"),
    ("Task", "search URL"),
    ("Task?", "no parameter"),
    ("Task?patient=urn:x|1", "parameter patient not supported"),
    ("Task?status:not=completed", "parameter status:not not supported"),
    ("Task?status=accepted&status=completed", "given twice"),
    ("Task?status=bogus", "not a Task status"),
    ("ServiceRequest?status=accepted", "not a ServiceRequest status"),
    ("ServiceRequest?owner=abc", "parameter owner not supported"),
    ("Task?owner=Practitioner/123", "owner must be PractitionerRole/<id>"),
    ("Task?status=accepted,", "empty value"),
    (None, "search URL"),
])
def test_criteria_this_server_cannot_evaluate_are_refused_saying_what_is_supported(criteria, says):
    with pytest.raises(CriteriaError) as refused:
        parse(criteria)
    assert says in str(refused.value)
    if "not supported" in says or "search URL" in says:
        assert "Task?status=&owner=&focus=" in str(refused.value)
