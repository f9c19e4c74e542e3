"""Pairing's writes sent again without an Idempotency-Key (a lost answer, a retried tap): one effect, one answer."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx
import pytest

from tests.e2e.test_pairing_flow import poll
from tests.unit.pairing.builders import npi, peer

pytestmark = pytest.mark.e2e
MODES = ("twice-in-sequence", "four-at-once")
SCOPE = "treatment-referral"


def send(mode: str, request) -> list[httpx.Response]:
    """The same request twice, one after the other, or four times at once."""
    if mode == "twice-in-sequence":
        return [request(), request()]
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda _: request(), range(4)))


def one_answer(answers: list[httpx.Response], first: int = 200) -> dict:
    """All answers carry the same body; one has the first request's status, the others are 200."""
    statuses = sorted(a.status_code for a in answers)
    assert statuses == sorted([first] + [200] * (len(answers) - 1)), [(a.status_code, a.text) for a in answers]
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1, [a.text for a in answers]
    return answers[0].json()


def events(database_url: str, facility: str, name: str) -> int:
    """How many `name` events pairing wrote to its outbox for this facility."""
    async def count():
        conn = await asyncpg.connect(database_url)
        try:
            return await conn.fetchval("SELECT count(*) FROM pairing.outbox_events WHERE envelope->>'type' LIKE"
                                       " '%.' || $1 AND envelope->'data'->>'facility' = $2", name, facility)
        finally:
            await conn.close()
    return asyncio.run(count())


def fresh_facility() -> str:
    return f"R{uuid.uuid4().hex[:6].upper()}"


def add_peers(stack, facility: str, count: int, *, on_shift: bool = True) -> list[str]:
    pairing, admin = stack.urls["pairing"], stack.headers("admin")
    now = datetime.now(timezone.utc)
    ids = []
    for n in range(count):
        r = httpx.post(f"{pairing}/specialists", json=peer(f"repeat-{n}", facility, npi=npi()), headers=admin)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
        if on_shift:
            shift = [{"facility": facility, "starts_at": (now - timedelta(hours=1)).isoformat(),
                      "ends_at": (now + timedelta(hours=8)).isoformat()}]
            assert httpx.put(f"{pairing}/specialists/{ids[-1]}/shifts", json=shift, headers=admin).status_code == 200
    return ids


def visit_at(stack, facility: str) -> dict:
    """An ED visit needing a peer, posted to intake; the query that finds it in pairing."""
    visit_number = "V" + uuid.uuid4().hex[:8]
    visit = {"facility": facility, "visit_number": visit_number, "language": "en", "diagnoses": ["F11.20"],
             "arrived_at": datetime.now(timezone.utc).isoformat()}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    return {"facility": facility, "visit_number": visit_number}


def offered(stack, facility: str) -> dict:
    query = visit_at(stack, facility)
    [offer] = poll(lambda: httpx.get(f"{stack.urls['pairing']}/assignments", params=query,
                                     headers=stack.headers("supervisor")).json())
    return offer


def assignments(stack, facility: str) -> list[dict]:
    return httpx.get(f"{stack.urls['pairing']}/assignments", params={"facility": facility},
                     headers=stack.headers("supervisor")).json()


def case_of(stack, case_id: str) -> dict:
    return httpx.get(f"{stack.urls['pairing']}/cases/{case_id}", headers=stack.headers("supervisor")).json()


def accepted(stack, facility: str) -> tuple[dict, dict]:
    """An offer at a fresh visit, accepted by its peer; the offer and the peer's headers."""
    offer = offered(stack, facility)
    me = stack.headers("peer", offer["specialist_id"])
    assert httpx.post(f"{stack.urls['pairing']}/assignments/{offer['id']}/accept", headers=me).status_code == 200
    return offer, me


@pytest.mark.parametrize("mode", MODES)
def test_accepting_again_is_the_same_acceptance_with_one_event_and_one_follow_up_plan(stack, database_url, mode):
    pairing, facility = stack.urls["pairing"], fresh_facility()
    add_peers(stack, facility, 1)
    offer = offered(stack, facility)
    me = stack.headers("peer", offer["specialist_id"])
    answers = send(mode, lambda: httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=me))
    assert one_answer(answers) == {"id": offer["id"], "status": "accepted"}
    assert [a["status"] for a in assignments(stack, facility)] == ["accepted"]
    assert [t["kind"] for t in case_of(stack, offer["case_id"])["plan"]] == ["follow-up"] * 5
    assert events(database_url, facility, "PeerAssignmentAccepted") == 1
    assert stack.counter("pairing", "pairing_time_to_accept_seconds_count", facility=facility) == 1
    # Only a repeat of the same state: once the case is closed the assignment is withdrawn, and accepting it is 409.
    r = httpx.post(f"{pairing}/cases/{offer['case_id']}/close", json={"reason": "other"}, headers=me)
    assert r.status_code == 200
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=me).status_code == 409


@pytest.mark.parametrize("mode", MODES)
def test_declining_again_answers_the_declined_offer_and_asks_the_next_peer_once(stack, database_url, mode):
    pairing, facility = stack.urls["pairing"], fresh_facility()
    add_peers(stack, facility, 3)
    offer = offered(stack, facility)
    me = stack.headers("peer", offer["specialist_id"])
    answers = send(mode, lambda: httpx.post(f"{pairing}/assignments/{offer['id']}/decline", json={"reason": "busy"},
                                            headers=me))
    assert one_answer(answers) == {"id": offer["id"], "status": "declined"}
    assert [(a["attempt"], a["status"]) for a in assignments(stack, facility)] == [(1, "declined"), (2, "offered")]
    assert events(database_url, facility, "PeerAssignmentDeclined") == 1
    assert events(database_url, facility, "PeerAssignmentOffered") == 2
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=me).status_code == 409


@pytest.mark.parametrize("mode", MODES)
def test_arriving_again_answers_the_first_arrival_with_one_event_and_one_observation(stack, database_url, mode):
    pairing, facility = stack.urls["pairing"], fresh_facility()
    add_peers(stack, facility, 1)
    offer, me = accepted(stack, facility)
    answers = send(mode, lambda: httpx.post(f"{pairing}/assignments/{offer['id']}/arrive", headers=me))
    body = one_answer(answers)
    [held] = assignments(stack, facility)
    assert body == {"id": offer["id"], "status": "accepted", "arrived_at": held["arrived_at"]}
    assert events(database_url, facility, "PeerArrived") == 1
    assert stack.counter("pairing", "pairing_time_to_bedside_seconds_count", facility=facility) == 1


@pytest.mark.parametrize("mode", MODES)
def test_the_same_consent_again_is_the_recorded_one_and_a_different_one_is_recorded(stack, database_url, mode):
    pairing, facility = stack.urls["pairing"], fresh_facility()
    add_peers(stack, facility, 1)
    offer, me = accepted(stack, facility)
    url = f"{pairing}/assignments/{offer['id']}/consent"
    declined_but_callable = {"granted": False, "scope": SCOPE, "accepts_support": False, "contact_ok": True}
    first = one_answer(send(mode, lambda: httpx.post(url, json=declined_but_callable, headers=me)), first=201)
    case = case_of(stack, offer["case_id"])
    plan = Counter((t["kind"], t["outcome"]) for t in case["plan"])
    assert plan == {("follow-up", "declined-in-ed"): 5, ("re-offer", None): 2}  # the plan changed once
    assert events(database_url, facility, "ConsentRecorded") == 1

    granted = {"granted": True, "scope": SCOPE}  # the patient changes their mind: a new consent
    r = httpx.post(url, json=granted, headers=me)
    assert r.status_code == 201 and r.json()["id"] != first["id"]
    again = httpx.post(url, json=granted, headers=me)
    assert (again.status_code, again.json()) == (200, r.json())
    revoked = httpx.post(url, json={**granted, "granted": False}, headers=me)
    assert revoked.status_code == 201 and revoked.json()["id"] not in (first["id"], r.json()["id"])
    assert events(database_url, facility, "ConsentRecorded") == 3


@pytest.mark.parametrize("mode", MODES)
def test_a_consent_that_closed_the_case_sent_again_answers_it_and_closes_nothing_twice(stack, database_url, mode):
    pairing, facility = stack.urls["pairing"], fresh_facility()
    add_peers(stack, facility, 1)
    offer, me = accepted(stack, facility)
    no_support = {"granted": False, "scope": SCOPE, "accepts_support": False, "contact_ok": False}
    one_answer(send(mode, lambda: httpx.post(f"{pairing}/assignments/{offer['id']}/consent", json=no_support,
                                             headers=me)), first=201)
    case = case_of(stack, offer["case_id"])
    assert (case["status"], case["close_reason"]) == ("closed", "declined")
    assert [a["status"] for a in assignments(stack, facility)] == ["withdrawn"]
    assert events(database_url, facility, "ConsentRecorded") == 1
    assert events(database_url, facility, "CaseClosed") == 1
    assert events(database_url, facility, "PeerAssignmentWithdrawn") == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_contact_is_known_by_its_case_and_time(stack, database_url, mode):
    pairing, facility = stack.urls["pairing"], fresh_facility()
    add_peers(stack, facility, 1)
    offer, me = accepted(stack, facility)
    url = f"{pairing}/cases/{offer['case_id']}/contacts"
    call = {"at": datetime.now(timezone.utc).isoformat(), "outcome": "no-answer"}
    first = one_answer(send(mode, lambda: httpx.post(url, json=call, headers=me)), first=201)
    case = case_of(stack, offer["case_id"])
    assert [(c["id"], c["outcome"]) for c in case["contacts"]] == [(first["id"], "no-answer")]
    # Made before the 72-hour window opened, the call counts for no window.
    assert [t["outcome"] for t in case["plan"]] == [None] * 5 and case["contacts"][0]["window_due_at"] is None
    assert httpx.post(url, json={**call, "outcome": "reached"}, headers=me).status_code == 409

    # A contact that closes the case, sent again, still finds itself (the case is closed by then).
    later = {"at": datetime.now(timezone.utc).isoformat(), "outcome": "deceased"}
    last = one_answer(send(mode, lambda: httpx.post(url, json=later, headers=me)), first=201)
    case = case_of(stack, offer["case_id"])
    assert [c["id"] for c in case["contacts"]] == [first["id"], last["id"]]
    assert (case["status"], case["close_reason"]) == ("closed", "deceased")
    assert events(database_url, facility, "CaseClosed") == 1


@pytest.mark.parametrize("mode", MODES)
def test_closing_again_for_the_same_reason_answers_the_closed_case_and_another_reason_is_409(stack, database_url,
                                                                                              mode):
    pairing, facility = stack.urls["pairing"], fresh_facility()
    add_peers(stack, facility, 1)
    offer, me = accepted(stack, facility)
    url = f"{pairing}/cases/{offer['case_id']}/close"
    answers = send(mode, lambda: httpx.post(url, json={"reason": "completed"}, headers=me))
    assert one_answer(answers) == {"id": offer["case_id"], "status": "closed", "reason": "completed"}
    case = case_of(stack, offer["case_id"])
    assert (case["status"], case["close_reason"]) == ("closed", "completed")
    assert [t["outcome"] for t in case["plan"]] == ["case-closed"] * 5
    assert events(database_url, facility, "CaseClosed") == 1
    assert events(database_url, facility, "PeerAssignmentWithdrawn") == 1
    assert httpx.post(url, json={"reason": "moved"}, headers=me).status_code == 409


@pytest.mark.parametrize("mode", MODES)
def test_assigning_a_case_again_to_its_peer_answers_the_assignment_that_holds_it(stack, database_url, mode):
    pairing, facility, lead = stack.urls["pairing"], fresh_facility(), stack.headers("supervisor")
    chosen, other = add_peers(stack, facility, 2, on_shift=False)  # nobody on shift: the case is escalated
    query = visit_at(stack, facility)
    [case] = poll(lambda: [c for c in httpx.get(f"{pairing}/cases", params=query, headers=lead).json()
                           if c["status"] == "escalated"])
    url = f"{pairing}/cases/{case['id']}/assign"
    held = one_answer(send(mode, lambda: httpx.post(url, json={"specialist_id": chosen}, headers=lead)), first=201)
    assert [(a["id"], a["specialist_id"], a["status"]) for a in assignments(stack, facility)] == [
        (held["id"], chosen, "accepted")]
    assert [t["kind"] for t in case_of(stack, case["id"])["plan"]] == ["follow-up"] * 5
    assert events(database_url, facility, "PeerAssignmentOffered") == 1
    assert events(database_url, facility, "PeerAssignmentAccepted") == 1
    assert httpx.post(url, json={"specialist_id": other}, headers=lead).status_code == 409


@pytest.mark.parametrize("mode", MODES)
def test_the_same_specialist_record_again_is_the_specialist_and_another_record_with_the_npi_is_409(stack, mode):
    pairing, facility, admin = stack.urls["pairing"], fresh_facility(), stack.headers("admin")
    record = peer("once", facility, npi=npi())
    created = one_answer(send(mode, lambda: httpx.post(f"{pairing}/specialists", json=record, headers=admin)),
                         first=201)
    roster = httpx.get(f"{pairing}/specialists", params={"facility": facility}, headers=admin).json()
    assert [(s["id"], s["name"]) for s in roster] == [(created["id"], record["name"])]
    r = httpx.post(f"{pairing}/specialists", json={**record, "name": "Someone Else"}, headers=admin)
    assert r.status_code == 409
    roster = httpx.get(f"{pairing}/specialists", params={"facility": facility}, headers=admin).json()
    assert [(s["id"], s["name"]) for s in roster] == [(created["id"], record["name"])]
