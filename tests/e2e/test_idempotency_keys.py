"""Idempotency-Key on the running services: a retried tap replays its answer, even across a kill -9 of pairing."""
from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx
import pytest

from tests.e2e.test_walking_skeleton import add_specialist, poll
from tests.unit.intake.fhir_samples import bundle, encounter as fhir_encounter
from tests.unit.pairing.builders import npi, peer as peer_record
from tests.support.services import start_services, stop_services
from tests.support.stack import fresh_database
from tests.support.x12_replies import Ack, write_277ca

pytestmark = pytest.mark.e2e


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def events(database_url: str, schema: str, facility: str) -> dict[str, int]:
    """How many events of each type a service wrote for the facility."""
    async def count():
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                f"SELECT split_part(envelope->>'type', '.', 4) AS name, count(*) FROM {schema}.outbox_events"
                " WHERE envelope->'data'->>'facility' = $1 GROUP BY 1", facility)
            return {r["name"]: r["count"] for r in rows}
        finally:
            await conn.close()
    return asyncio.run(count())


def offers(stack, query: dict) -> list[dict]:
    """The visit's assignments, once pairing has made the first offer."""
    return poll(lambda: httpx.get(f"{stack.urls['pairing']}/assignments", params=query,
                                  headers=stack.headers("supervisor")).json())


def tapped(method: str, url: str, headers: dict, json=None, times: int = 4) -> tuple[httpx.Response, list]:
    """The same request with one key, `times` at once and once more after: the one that acted, and all answers."""
    key = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    with ThreadPoolExecutor(times) as pool:
        answers = list(pool.map(lambda _: httpx.request(method, url, json=json, headers=key), range(times)))
    answers.append(httpx.request(method, url, json=json, headers=key))
    acted = [a for a in answers if a.is_success and "idempotent-replayed" not in a.headers]
    assert len(acted) == 1, [(a.status_code, a.headers.get("idempotent-replayed")) for a in answers]
    for answer in answers:
        # a repeat is either told the first is still running, or given the first answer byte for byte
        assert (answer.status_code == 409 and "still being processed" in answer.text) or \
            (answer.status_code, answer.content) == (acted[0].status_code, acted[0].content), answer.text
    assert answers[-1].headers.get("idempotent-replayed") == "true"
    return acted[0], answers


def test_every_tap_of_a_peer_s_night_sent_with_a_key_acts_once(stack):
    facility, visit_number = f"F{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    intake, pairing, billing = stack.urls["intake"], stack.urls["pairing"], stack.urls["billing"]
    specialist_id = add_specialist(stack, facility)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": iso(start - timedelta(minutes=30)),
             "gender": "male", "age_years": 38, "diagnoses": ["T40.1X1A", "F11.20"],
             "payer": {"plan_id": "NJMCD", "member_id": "NJ765432"}}
    registered, _ = tapped("POST", f"{intake}/visits", stack.headers("ehr"), visit)
    assert registered.status_code == 202 and registered.json()["peer_indicated"]
    query = {"facility": facility, "visit_number": visit_number}
    [offer] = offers(stack, query)
    peer, base = stack.headers("peer", specialist_id), f"{pairing}/assignments/{offer['id']}"

    assert tapped("POST", f"{base}/accept", peer)[0].json() == {"id": offer["id"], "status": "accepted"}
    assert tapped("POST", f"{base}/arrive", peer)[0].json()["arrived_at"]
    assert tapped("POST", f"{base}/consent", peer, {"granted": True, "scope": "treatment-referral"})[0].status_code \
        == 201
    encounter = {"assignment_id": offer["id"], "started_at": iso(start), "ended_at": iso(start + timedelta(minutes=35)),
                 "modality": "in-person", "kind": "individual"}
    recorded, answers = tapped("POST", f"{pairing}/encounters", peer, encounter)
    # replayed, the answer is the first one, 201 Created, where a repeat without a key is told 200 (already there)
    assert recorded.status_code == 201 and answers[-1].status_code == 201
    case_id = httpx.get(base, headers=peer).json()["case_id"]
    # A call made after the encounter (a contact may not lie in the future)
    contact = {"at": iso(start + timedelta(minutes=50)), "outcome": "reached"}
    assert tapped("POST", f"{pairing}/cases/{case_id}/contacts", peer, contact)[0].status_code == 201
    assert tapped("POST", f"{pairing}/cases/{case_id}/close", peer, {"reason": "completed"})[0].json()["status"] \
        == "closed"

    assert events(stack.env["DATABASE_URL"], "intake", facility) == {"EdVisitRegistered": 1, "PeerSupportIndicated": 1}
    written = events(stack.env["DATABASE_URL"], "pairing", facility)
    assert {name: written.get(name) for name in ("PeerAssignmentAccepted", "PeerArrived", "PeerEncounterCompleted",
                                                 "CaseClosed")} == dict.fromkeys(
        ("PeerAssignmentAccepted", "PeerArrived", "PeerEncounterCompleted", "CaseClosed"), 1)
    case = httpx.get(f"{pairing}/cases/{case_id}", headers=peer).json()
    assert len(case["contacts"]) == 1

    biller = stack.headers("billing")
    [claim] = poll(lambda: [c for c in httpx.get(f"{billing}/claims", params=query, headers=biller).json()
                            if c["status"] != "awaiting-visit"])
    assert claim["status"] == "prepared", httpx.get(f"{billing}/claims/{claim['id']}", headers=biller).text
    held, _ = tapped("POST", f"{billing}/claims/{claim['id']}/hold", biller, {"reason": "check the member id"})
    assert [h["code"] for h in held.json()["hold_reasons"]] == ["manual"]
    assert tapped("POST", f"{billing}/claims/{claim['id']}/approve", biller)[0].json()["status"] == "approved"
    assert events(stack.env["DATABASE_URL"], "billing", facility).get("ClaimHeld") == 1


def test_an_ehr_s_and_a_biller_s_retries_with_a_key_act_once(stack):
    intake, billing, ehr = stack.urls["intake"], stack.urls["billing"], stack.headers("ehr")
    facility = f"F{uuid.uuid4().hex[:6].upper()}"
    fhir_number, bundle_number = "V" + uuid.uuid4().hex[:8], "V" + uuid.uuid4().hex[:8]
    created, _ = tapped("POST", f"{intake}/fhir/Encounter", ehr, fhir_encounter(facility, fhir_number))
    assert created.status_code == 201 and created.headers["content-type"] == "application/fhir+json"
    assert tapped("POST", f"{intake}/fhir", ehr, bundle(facility, bundle_number))[0].json()["type"] \
        == "transaction-response"
    asked, _ = tapped("POST", f"{intake}/visits/{facility}/{fhir_number}/peer-request", ehr)
    assert {i["kind"] for i in asked.json()["indications"]} >= {"clinician-request"}
    # each visit registered and indicated once; the clinician's request updated one of them, once
    assert events(stack.env["DATABASE_URL"], "intake", facility) == {
        "EdVisitRegistered": 2, "PeerSupportIndicated": 2, "EdVisitUpdated": 1}
    # sent again without a key, the visit tells nothing new and is announced to no one
    assert httpx.post(f"{intake}/fhir/Encounter", json=fhir_encounter(facility, fhir_number),
                      headers=ehr).status_code == 201
    assert events(stack.env["DATABASE_URL"], "intake", facility)["EdVisitRegistered"] == 2

    admin = stack.headers("admin")
    home = f"K{uuid.uuid4().hex[:6].upper()}"
    added, _ = tapped("POST", f"{stack.urls['pairing']}/specialists", admin, peer_record("keyed", home, npi=npi()))
    assert added.status_code == 201
    roster = httpx.get(f"{stack.urls['pairing']}/specialists", params={"facility": home}, headers=admin).json()
    assert [r["id"] for r in roster] == [added.json()["id"]]

    biller = stack.headers("billing")
    claim = billed_claim(stack, facility)
    assert httpx.post(f"{billing}/claims/{claim['id']}/approve", headers=biller).status_code == 200
    ed = {"code": facility, "name": "Keyed Emergency Department", "npi": "1245319599", "address": "1 Main Street",
          "city": "Newark", "state": "NJ", "zip": "071022027"}  # the ED, for loop 2310C
    assert tapped("POST", f"{billing}/facilities", biller, ed)[0].status_code == 200
    batch, _ = tapped("POST", f"{billing}/batches", biller, {"payer": "NJ-MEDICAID"})
    assert batch.status_code == 201 and batch.json()["claim_count"] >= 1
    # a void quotes the payer's claim control number, which the 277CA brings
    ack = write_277ca([Ack(claim["claim_number"], claim["charge"], True, "2026000000777")]).encode()
    assert httpx.post(f"{billing}/x12/inbound", content=ack, headers=biller).status_code == 201
    void, _ = tapped("POST", f"{billing}/claims/{claim['id']}/void", biller)
    assert void.status_code == 201 and void.json()["frequency"] == "8"
    claims = httpx.get(f"{billing}/claims", params={"facility": facility}, headers=biller).json()
    assert sorted(c["frequency"] for c in claims) == ["1", "8"]
    assert httpx.get(f"{billing}/claims/{claim['id']}", headers=biller).json()["batch_id"] == batch.json()["id"]


def billed_claim(stack, facility: str) -> dict:
    """A prepared NJ Medicaid claim at the facility: a visit with the subscriber's data, a peer, an encounter."""
    visit_number = "V" + uuid.uuid4().hex[:8]
    specialist_id = add_specialist(stack, facility)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=2)
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": iso(start - timedelta(minutes=30)),
             "gender": "female", "age_years": 41, "diagnoses": ["F11.20"],
             "payer": {"plan_id": "NJMCD", "member_id": "NJ998877"},
             "patient_name": {"family": "Keyed", "given": "Kim"}, "birth_date": "1985-03-07",
             "address": {"line1": "1 Main Street", "city": "Newark", "state": "NJ", "postal_code": "07102"}}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    query = {"facility": facility, "visit_number": visit_number}
    [offer] = offers(stack, query)
    peer = stack.headers("peer", specialist_id)
    assert httpx.post(f"{stack.urls['pairing']}/assignments/{offer['id']}/accept", headers=peer).status_code == 200
    session = {"assignment_id": offer["id"], "started_at": iso(start), "ended_at": iso(start + timedelta(minutes=50)),
               "modality": "in-person", "kind": "individual"}
    assert httpx.post(f"{stack.urls['pairing']}/encounters", json=session, headers=peer).status_code == 201
    [claim] = poll(lambda: [c for c in httpx.get(f"{stack.urls['billing']}/claims", params=query,
                                                 headers=stack.headers("billing")).json() if c["status"] == "prepared"])
    return claim


def test_a_key_reused_for_another_request_is_422_naming_the_header(stack):
    headers = {**stack.headers("ehr"), "Idempotency-Key": str(uuid.uuid4())}
    facility = f"F{uuid.uuid4().hex[:6].upper()}"
    visit = {"facility": facility, "visit_number": "V1", "arrived_at": iso(datetime.now(timezone.utc)),
             "diagnoses": ["F11.20"]}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=headers).status_code == 202
    r = httpx.post(f"{stack.urls['intake']}/visits", json={**visit, "diagnoses": ["F10.20"]}, headers=headers)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in r.json()["detail"]
    r = httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers={**headers, "Idempotency-Key": "not one"})
    assert r.status_code == 400 and "Idempotency-Key" in r.json()["detail"]


@pytest.fixture
async def crashing_pairing(infra, tmp_path):
    """Intake, pairing and billing on a database of their own; pairing dies (SIGKILL) after committing an encounter
    and before answering, as it would if killed at the worst moment."""
    async with fresh_database(infra.admin_dsn, prefix="pb_idem") as url:
        stack = start_services(infra.kafka_bootstrap, url, tmp_path, names=("intake", "pairing", "billing"),
                               extra_env={"PEERBRIDGE_FAILPOINT": "kill-before-response:POST /encounters"})
        try:
            yield stack
        finally:
            stop_services(stack)


def test_pairing_killed_between_commit_and_answer_then_retried_gives_one_encounter_and_one_claim(crashing_pairing):
    stack = crashing_pairing
    facility, visit_number = f"F{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    pairing, billing = stack.urls["pairing"], stack.urls["billing"]
    specialist_id = add_specialist(stack, facility)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    visit = {"facility": facility, "visit_number": visit_number, "arrived_at": iso(start - timedelta(minutes=20)),
             "diagnoses": ["T40.1X1A"], "payer": {"plan_id": "NJMCD", "member_id": "NJ111222"}}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    query = {"facility": facility, "visit_number": visit_number}
    [offer] = offers(stack, query)
    peer = {**stack.headers("peer", specialist_id), "Idempotency-Key": str(uuid.uuid4())}
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=peer).status_code == 200
    encounter = {"assignment_id": offer["id"], "started_at": iso(start), "ended_at": iso(start + timedelta(minutes=50)),
                 "modality": "in-person", "kind": "individual"}

    with pytest.raises(httpx.TransportError):  # the answer never comes: pairing is gone
        httpx.post(f"{pairing}/encounters", json=encounter, headers=peer)
    assert stack.procs["pairing"].wait(timeout=15) == -9
    stack.env.pop("PEERBRIDGE_FAILPOINT")
    stack.start("pairing")
    stack.wait_ready()

    retried = httpx.post(f"{pairing}/encounters", json=encounter, headers=peer)
    assert retried.status_code == 201 and retried.headers["idempotent-replayed"] == "true"
    # a phone that lost its key too still gets the same encounter, by its natural key
    keyless = {k: v for k, v in peer.items() if k != "Idempotency-Key"}
    assert httpx.post(f"{pairing}/encounters", json=encounter, headers=keyless).json() == retried.json()
    assert events(stack.env["DATABASE_URL"], "pairing", facility)["PeerEncounterCompleted"] == 1
    # the one event pairing wrote became one claim, priced (or held) once
    biller = stack.headers("billing")
    poll(lambda: {"ClaimPrepared", "ClaimHeld"} & set(events(stack.env["DATABASE_URL"], "billing", facility)))
    assert len(httpx.get(f"{billing}/claims", params=query, headers=biller).json()) == 1
    assert sum(events(stack.env["DATABASE_URL"], "billing", facility).values()) == 1
