"""Search parameters: parsed into filters, with unknown or malformed ones refused by name."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.referral.domain.search import SearchError, parse, searchset

pytestmark = pytest.mark.unit


def test_task_search_parameters_become_filters():
    spec = parse("Task", [("focus", "ServiceRequest/abc"), ("owner", "xyz"), ("status", "accepted,in-progress"),
                          ("_lastUpdated", "gt2031-05-06T10:00:00Z"), ("_count", "5"), ("_offset", "10")])
    assert spec.where == [("focus", "=", "ServiceRequest/abc"), ("owner", "=", "PractitionerRole/xyz"),
                          ("status", "= ANY", ["accepted", "in-progress"]),
                          ("last_updated", ">", datetime(2031, 5, 6, 10, tzinfo=timezone.utc))]
    assert (spec.count, spec.offset) == (5, 10)


@pytest.mark.parametrize("rtype,params,message", [
    ("ServiceRequest", [("focus", "x")], "unknown search parameter focus"),
    ("Task", [("_count", "5000")], "_count must be between"),
    ("Task", [("_lastUpdated", "yesterday")], "_lastUpdated is not a valid date"),
    ("ServiceRequest", [("identifier", "MERCY:V1")], "identifier must be system|value"),
    ("Task", [("focus", "Patient/1")], "focus must reference a ServiceRequest"),
])
def test_bad_searches_are_refused_naming_the_parameter(rtype, params, message):
    with pytest.raises(SearchError, match=message):
        parse(rtype, params)


def test_an_empty_searchset_has_no_entry_array_and_passes_hl7s_validator(assert_valid_fhir):
    empty = searchset(0, [{"relation": "self", "url": "http://referral/fhir/Task?status=accepted"}], [])
    assert "entry" not in empty and empty["total"] == 0
    assert_valid_fhir(empty)
