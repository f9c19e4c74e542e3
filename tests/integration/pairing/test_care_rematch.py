"""Re-matching one case on real Kafka and PostgreSQL: a supervisor's or the patient's request, the payer's credential
rule on the date of service, and the reasons nobody is eligible."""
from __future__ import annotations

import pytest

from tests.unit.pairing.builders import CERTIFIED_UNTIL

from .care_support import facility

pytestmark = pytest.mark.integration
NJ_PAYER = {"plan_id": "NJMCD", "member_id": "M1"}


def cert(kind: str, state: str) -> list[dict]:
    return [{"kind": kind, "number": "N1", "state": state, "expires_on": CERTIFIED_UNTIL}]


async def assigned_case(api, f: str, **visit) -> tuple[dict, str]:
    data = await api.indicate(f, **visit)
    return data, await api.accept(data)


async def test_a_supervisor_re_matches_an_assigned_case_to_another_peer_once(care_api):
    f = facility()
    await care_api.add_peer(f, "a")
    data, holder = await assigned_case(care_api, f)
    other = await care_api.add_peer(f, "b", on_shift=False)  # re-matched work needs the facility, not a shift
    case_id = str(data["case"]["id"])
    body = {"reason": "supervisor-decision", "requested_by": "supervisor"}
    first = await care_api.client.post(f"/cases/{case_id}/rematch", json=body, headers=care_api.headers())
    assert first.status_code == 201, first.text
    assert first.json()["specialist_id"] == other
    again = await care_api.client.post(f"/cases/{case_id}/rematch", json=body, headers=care_api.headers())
    assert (again.status_code, again.json()) == (200, first.json())
    statuses = {str(a["specialist_id"]): a["status"] for a in await care_api.pool.fetch(
        "SELECT * FROM assignments WHERE case_id = $1", data["case"]["id"])}
    assert statuses == {holder: "withdrawn", other: "accepted"}
    [row] = await care_api.pool.fetch("SELECT * FROM rematches WHERE case_id = $1", data["case"]["id"])
    assert (row["reason"], str(row["from_specialist"]), str(row["to_specialist"])) == (
        "supervisor-decision", holder, other)
    case = await care_api.case_of(data)
    assert (case["status"], str(case["specialist_id"])) == ("assigned", other)


async def test_the_patients_request_relayed_by_their_peer_is_never_a_409_and_gets_the_gender_asked_for(care_api):
    f = facility()
    await care_api.add_peer(f, "a", gender="female")
    data, holder = await assigned_case(care_api, f)
    await care_api.add_peer(f, "c", gender="female", on_shift=False)
    man = await care_api.add_peer(f, "d", gender="male", on_shift=False, pathways=["MOUD-supportive"])
    body = {"reason": "prefers-other-gender", "requested_by": "patient", "peer_gender": "male"}
    peer = care_api.headers("peer", holder)
    supervisor_only = {"reason": "supervisor-decision", "requested_by": "supervisor"}
    case_id = str(data["case"]["id"])
    assert (await care_api.client.post(f"/cases/{case_id}/rematch", json=supervisor_only,
                                       headers=peer)).status_code == 403
    r = await care_api.client.post(f"/cases/{case_id}/rematch", json=body, headers=peer)
    assert r.status_code == 201, r.text
    assert r.json()["specialist_id"] == man


async def test_a_boundary_conflict_recuses_the_peer_who_held_the_case(care_api):
    f = facility()
    await care_api.add_peer(f, "a")
    data, holder = await assigned_case(care_api, f, patient_ref={"system": "mrn", "value": "X-1"})
    await care_api.add_peer(f, "b", on_shift=False)
    r = await care_api.client.post(f"/cases/{data['case']['id']}/rematch",
                                   json={"reason": "boundary-conflict", "requested_by": "patient"},
                                   headers=care_api.headers())
    assert r.status_code == 201, r.text
    assert await care_api.pool.fetchval("SELECT count(*) FROM recusals WHERE specialist_id = $1"
                                        " AND patient_hash = $2", holder, data["case"]["patient_hash"]) == 1


async def test_re_matching_skips_a_peer_whose_credential_the_payer_rejects_on_the_date_of_service(care_api):
    f = facility()
    await care_api.add_peer(f, "a", certifications=cert("CPRS", "NJ"))
    data, holder = await assigned_case(care_api, f, payer=NJ_PAYER)
    # The better match (the patient's substance in their own history) holds a Texas credential New Jersey rejects.
    await care_api.add_peer(f, "tx", on_shift=False, certifications=cert("CPRS", "TX"))
    nj = await care_api.add_peer(f, "nj", on_shift=False, certifications=cert("PRS", "NJ"),
                                 lived_experience=["alcohol"])
    r = await care_api.client.post(f"/cases/{data['case']['id']}/rematch",
                                   json={"reason": "caseload-balance", "requested_by": "supervisor"},
                                   headers=care_api.headers())
    assert r.status_code == 201, r.text
    assert r.json()["specialist_id"] == nj
    explanation = await care_api.pool.fetchval("SELECT explanation FROM assignments WHERE id = $1", r.json()["id"])
    assert explanation["constraints"]["payer_credential"]["failed"] == 1
    assert explanation["payer_rule"] == {"plan_id": "NJMCD", "kinds": ["CPRS", "CPRC", "CPRA", "PRS"], "state": "NJ",
                                         "date_of_service": explanation["payer_rule"]["date_of_service"]}


async def test_when_nobody_is_eligible_the_problem_says_which_constraint_excluded_how_many(care_api):
    f = facility()
    await care_api.add_peer(f, "a", certifications=cert("CPRS", "NJ"))
    data, holder = await assigned_case(care_api, f, payer=NJ_PAYER)
    await care_api.add_peer(f, "tx", on_shift=False, certifications=cert("CPRS", "TX"))
    await care_api.add_peer(f, "new", on_shift=False, recovery_since="2025-06-01")
    r = await care_api.client.post(f"/cases/{data['case']['id']}/rematch",
                                   json={"reason": "mismatch", "requested_by": "patient"}, headers=care_api.headers())
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["type"] == "urn:peerbridge:problem:no-eligible-peer" and problem["eligible"] == 0
    failed = {name: c["failed"] for name, c in problem["constraints"].items() if c["failed"]}
    # Everyone on this session's roster is considered; of this facility's three, the holder is excluded by
    # not_recused, the Texan by payer_credential, the newcomer by time_in_recovery.
    assert failed["payer_credential"] >= 1 and failed["time_in_recovery"] >= 1 and failed["not_recused"] >= 1
    case = await care_api.case_of(data)
    assert (case["status"], str(case["specialist_id"])) == ("assigned", holder)  # nothing changed


async def test_a_closed_case_is_not_re_matched(care_api):
    f = facility()
    await care_api.add_peer(f, "a")
    data, _ = await assigned_case(care_api, f)
    headers = care_api.headers()
    assert (await care_api.client.post(f"/cases/{data['case']['id']}/close", json={"reason": "completed"},
                                       headers=headers)).status_code == 200
    r = await care_api.client.post(f"/cases/{data['case']['id']}/rematch",
                                   json={"reason": "supervisor-decision", "requested_by": "supervisor"},
                                   headers=headers)
    assert r.status_code == 409
