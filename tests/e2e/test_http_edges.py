"""Bad input at every service's HTTP edge is a specific 4xx (problem+json, or OperationOutcome under /fhir), not 5xx."""
from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.test_walking_skeleton import add_specialist, iso, minutes_ago, poll

pytestmark = pytest.mark.e2e
NO_ID = "00000000-0000-0000-0000-000000000000"
DEEP = b"[" * 100_000 + b"]" * 100_000


def answer(stack, service: str, method: str, path: str, role: str, headers: dict | None = None,
           **kw) -> httpx.Response:
    return httpx.request(method, stack.urls[service] + path, headers={**stack.headers(role), **(headers or {})},
                         timeout=30, **kw)


def refused(r: httpx.Response, status: int, fhir: bool) -> str:
    """The refusal's text, after checking its status and format."""
    assert r.status_code == status, r.text
    if fhir:
        assert r.headers["content-type"].startswith("application/fhir+json")
        [issue] = r.json()["issue"]
        assert issue["severity"] == "error"
        return issue["diagnostics"]
    assert r.headers["content-type"] == "application/problem+json" and r.json()["status"] == status
    return r.json()["detail"]


@pytest.mark.parametrize("service, path, role, name", [
    ("intake", "/visits/F%00/V1", "admin", "facility"),
    ("intake", "/messages?status=accepted&until=2026-01-01T00:00:00Z%00", "admin", "until"),
    ("intake", "/visits/F1/V%001/subscriber", "billing", "visit_number"),
    ("pairing", "/specialists?facility=F%001", "admin", "facility"),
    ("pairing", "/cases/%00", "admin", "case_id"),
    ("pairing", "/assignments?visit_number=%00", "supervisor", "visit_number"),
    ("referral", "/referrals/F1/V%00", "supervisor", "visit_number"),
    ("referral", "/audit?action=read%00", "supervisor", "action"),
    ("referral", "/fhir/ServiceRequest?status=%00active", "supervisor", "status"),
    ("referral", "/fhir/Task/%00", "supervisor", "rid"),
    ("referral", "/fhir/AuditEvent?entity=Task/%00", "supervisor", "entity"),
    ("billing", "/claims?facility=%00", "billing", "facility"),
    ("billing", f"/claims/{NO_ID}%00", "billing", "claim_id"),
])
def test_a_nul_in_a_query_parameter_or_path_id_is_a_400_naming_the_parameter(stack, service, path, role, name):
    text = refused(answer(stack, service, "GET", path, role), 400, fhir="/fhir/" in path)
    assert name in text and "NUL" in text


@pytest.mark.parametrize("service, path, role", [
    ("intake", "/fhir/Encounter", "ehr"),
    ("intake", "/fhir", "ehr"),
    ("intake", "/visits", "ehr"),
    ("pairing", "/specialists", "admin"),
    ("billing", "/batches", "billing"),
    ("billing", f"/claims/{NO_ID}/hold", "billing"),
])
@pytest.mark.parametrize("body", [DEEP, b'{"resourceType": "Encounter", "x": ' + b"[" * 900 + b"]" * 900 + b"}"],
                         ids=["100000-deep", "900-deep"])
def test_json_nested_far_too_deep_is_a_400(stack, service, path, role, body):
    r = answer(stack, service, "POST", path, role, content=body, headers={"content-type": "application/json"})
    refused(r, 400, fhir=path.startswith("/fhir"))


@pytest.mark.parametrize("path, status", [
    ("/audit?offset=99999999999999999999", 422),
    ("/audit?offset=10000001", 422),
    ("/fhir/AuditEvent?_offset=99999999999999999999", 400),
    ("/fhir/AuditEvent?_count=%C2%B2", 400),  # "²" passes str.isdigit() but not int()
    ("/fhir/Task?_offset=" + "9" * 5000, 400),
])
def test_paging_parameters_out_of_range_are_refused(stack, path, status):
    text = refused(answer(stack, "referral", "GET", path, "supervisor"), status, fhir=path.startswith("/fhir"))
    assert "offset" in text or "_count" in text


def test_a_version_id_too_large_for_the_database_is_a_400(stack):
    facility, number = f"F{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    visit = {"facility": facility, "visit_number": number, "arrived_at": iso(minutes_ago(5)), "diagnoses": ["T40.1X1A"]}
    assert answer(stack, "intake", "POST", "/visits", "ehr", json=visit).status_code == 202
    search = f"/fhir/Task?identifier=urn:peerbridge:ed-visit|{facility}:{number}"
    bundle = poll(lambda: answer(stack, "referral", "GET", search, "supervisor").json().get("entry"))
    for vid in ("99999999999999999999", "%C2%B2"):
        path = f"/fhir/Task/{bundle[0]['resource']['id']}/_history/{vid}"
        assert "version" in refused(answer(stack, "referral", "GET", path, "supervisor"), 400, fhir=True)


def test_an_encounter_in_the_future_or_longer_than_the_program_allows_is_refused(stack):
    facility, number = f"F{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    peer = add_specialist(stack, facility)
    visit = {"facility": facility, "visit_number": number, "arrived_at": iso(minutes_ago(300)),
             "diagnoses": ["T40.1X1A"]}
    assert answer(stack, "intake", "POST", "/visits", "ehr", json=visit).status_code == 202
    [offer] = poll(lambda: answer(stack, "pairing", "GET", f"/assignments?facility={facility}&visit_number={number}",
                                  "supervisor").json())
    mine = stack.headers("peer", peer)
    assert httpx.post(f"{stack.urls['pairing']}/assignments/{offer['id']}/accept", headers=mine).status_code == 200

    def record(started: float, ended: float) -> httpx.Response:
        body = {"assignment_id": offer["id"], "started_at": iso(minutes_ago(started)),
                "ended_at": iso(minutes_ago(ended)), "modality": "in-person"}
        return httpx.post(f"{stack.urls['pairing']}/encounters", json=body, headers=mine)

    assert "in the future" in refused(record(10, -60), 422, fhir=False)
    assert "at most 240 minutes" in refused(record(290, 30), 422, fhir=False)
    assert "ended_at" in refused(record(30, 40), 422, fhir=False)
    assert record(60, 10).status_code == 201


@pytest.mark.parametrize("service, path, role, status", [
    ("intake", "/messages?since=9999-12-31T23:00:00-14:00", "admin", 422),
    ("intake", "/messages?until=0001-01-01T00:00:00%2B14:00", "admin", 422),
    ("referral", "/audit?since=9999-12-31T23:00:00-14:00", "supervisor", 422),
    ("referral", "/fhir/Task?_lastUpdated=gt9999-12-31T23:00:00-14:00", "supervisor", 400),
    ("referral", "/fhir/AuditEvent?date=lt0001-01-01T00:00:00%2B14:00", "supervisor", 400),
])
def test_an_instant_with_no_utc_equivalent_is_refused_naming_the_parameter(stack, service, path, role, status):
    text = refused(answer(stack, service, "GET", path, role), status, fhir="/fhir/" in path)
    assert path.split("?")[1].split("=")[0] in text


def test_a_visit_arriving_at_an_instant_with_no_utc_equivalent_is_refused(stack):
    visit = {"facility": "F1", "visit_number": "V" + uuid.uuid4().hex[:8], "arrived_at": "9999-12-31T23:00:00-14:00"}
    assert "arrived_at" in refused(answer(stack, "intake", "POST", "/visits", "ehr", json=visit), 422, fhir=False)


@pytest.mark.parametrize("arrived_at", [12, "12", 1.5e9])
def test_a_visit_whose_arrival_is_a_bare_number_is_refused_not_read_as_1970(stack, arrived_at):
    visit = {"facility": "F1", "visit_number": "V" + uuid.uuid4().hex[:8], "arrived_at": arrived_at}
    assert "arrived_at" in refused(answer(stack, "intake", "POST", "/visits", "ehr", json=visit), 422, fhir=False)


def test_a_shift_starting_at_an_instant_with_no_utc_equivalent_is_refused(stack):
    facility = f"F{uuid.uuid4().hex[:6].upper()}"
    peer = add_specialist(stack, facility)
    shifts = [{"facility": facility, "starts_at": "0001-01-01T00:00:00+14:00", "ends_at": iso(minutes_ago(-60))}]
    r = httpx.put(f"{stack.urls['pairing']}/specialists/{peer}/shifts", json=shifts, headers=stack.headers("admin"))
    assert "starts_at" in refused(r, 422, fhir=False)
