"""GET /visits/{facility}/{visit_number}/subscriber on real PostgreSQL: HL7, FHIR and JSON sources, roles, audit."""
from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import httpx
import pytest

from tests.integration.intake.conftest import CLIENT_NOW, headers
from tests.unit.intake.fhir_samples import bundle
from tests.unit.intake.messages import SECRET_NAME, adt

ARRIVED_AT = (CLIENT_NOW - timedelta(hours=2)).isoformat()  # the JSON visits arrived two hours before the clock

pytestmark = pytest.mark.integration


async def subscriber_of(client, facility="GENHOSP", visit_number="V1001", role="billing") -> httpx.Response:
    return await client.get(f"/visits/{facility}/{visit_number}/subscriber", headers=headers(role))


def with_pid(trigger: str, pid: str, control_id: str) -> bytes:
    message = adt(trigger, control_id=control_id)
    return message.replace(message.split(b"\r")[2], pid.encode())


async def test_hl7_a04_then_a08_the_newest_message_wins(receiver, client):
    await receiver.handle_frame(adt("A04", control_id="S-1"))
    first = await subscriber_of(client)
    assert first.status_code == 200 and first.json() == {
        "last_name": SECRET_NAME, "first_name": "ALEX", "middle_name": None, "birth_date": "1981-03-14",
        "gender": "male",
        "address": {"line1": "12 Elm St", "line2": None, "city": "Trenton", "state": "NJ", "postal_code": "08608"}}
    await receiver.handle_frame(with_pid("A08", "PID|1||M1||NEWNAME^ALEXIS^R||19810315|F|||1 New Rd^^Camden^NJ^08101",
                                         "S-2"))
    assert (await subscriber_of(client)).json() == {
        "last_name": "NEWNAME", "first_name": "ALEXIS", "middle_name": "R", "birth_date": "1981-03-15",
        "gender": "female",
        "address": {"line1": "1 New Rd", "line2": None, "city": "Camden", "state": "NJ", "postal_code": "08101"}}


async def test_the_demographics_never_reach_the_events(receiver, client, intake_pool):
    await receiver.handle_frame(adt("A04", control_id="S-3"))
    await client.post("/visits", headers=headers("ehr"), json={
        "facility": "GENHOSP", "visit_number": "J-9", "arrived_at": ARRIVED_AT,
        "patient_name": {"family": "ZZJSONNAME"}, "birth_date": "1970-01-02", "address": {"line1": "77 Secret Ln"}})
    events = str([r["envelope"] for r in await intake_pool.fetch("SELECT envelope FROM outbox_events")])
    assert "EdVisitRegistered" in events
    for value in (SECRET_NAME, "12 Elm St", "1981-03-14", "19810314", "ZZJSONNAME", "77 Secret Ln", "1970-01-02"):
        assert value not in events


async def test_a_fhir_bundle_patient_is_the_subscriber(client):
    posted = await client.post("/fhir", headers=headers("ehr"), content=json.dumps(bundle("FH", "FV1")))
    assert posted.status_code == 200
    got = await subscriber_of(client, "FH", "FV1")
    assert got.json() == {"last_name": "ZZFHIRNAME", "first_name": None, "middle_name": None,
                          "birth_date": "1990-06-01", "gender": "female",
                          "address": {"line1": None, "line2": None, "city": None, "state": None, "postal_code": None}}


async def test_the_json_body_subscriber_fields_are_served_and_the_answer_is_unchanged(client):
    posted = await client.post("/visits", headers=headers("ehr"), json={
        "facility": "JH", "visit_number": "JV1", "arrived_at": ARRIVED_AT, "gender": "other",
        "diagnoses": ["T40.1X1A"], "patient_name": {"family": "Roe", "given": "Sam", "middle": "T"},
        "birth_date": "1985-12-31",
        "address": {"line1": "3 Pine", "line2": "Fl 2", "city": "Trenton", "state": "NJ", "postal_code": "08608"}})
    assert posted.status_code == 202
    assert set(posted.json()) == {"facility", "visit_number", "peer_indicated", "indications"}
    assert (await subscriber_of(client, "JH", "JV1")).json() == {
        "last_name": "Roe", "first_name": "Sam", "middle_name": "T", "birth_date": "1985-12-31", "gender": "other",
        "address": {"line1": "3 Pine", "line2": "Fl 2", "city": "Trenton", "state": "NJ", "postal_code": "08608"}}


async def test_a_known_visit_without_demographics_answers_nulls(client):
    await client.post("/visits", headers=headers("ehr"), json={
        "facility": "JH", "visit_number": "JV2", "arrived_at": ARRIVED_AT})
    got = await subscriber_of(client, "JH", "JV2")
    assert got.status_code == 200 and got.json()["last_name"] is None and got.json()["gender"] == "unknown"


async def test_only_billing_may_read_and_every_read_is_audited(receiver, client, intake_pool):
    await receiver.handle_frame(adt("A04", control_id="S-4"))
    assert (await subscriber_of(client, role="supervisor")).status_code == 403
    assert (await subscriber_of(client, role="admin")).status_code == 403
    assert (await client.get("/visits/GENHOSP/V1001/subscriber")).status_code == 401
    assert (await subscriber_of(client)).status_code == 200
    rows = await intake_pool.fetch("SELECT subject, role, facility, visit_number_hash, purpose, disclosed_at"
                                   " FROM disclosures")
    assert [(r["subject"], r["role"], r["facility"], r["visit_number_hash"], r["purpose"]) for r in rows] == [
        ("svc-billing", "billing", "GENHOSP", hashlib.sha256(b"V1001").hexdigest(), "payment")]
    assert rows[0]["disclosed_at"] == CLIENT_NOW
    with pytest.raises(Exception, match="append-only"):
        await intake_pool.execute("DELETE FROM disclosures")


async def test_an_unknown_visit_is_404_problem_without_identifiers(client, intake_pool):
    got = await subscriber_of(client, "NOPE", "SECRETVN77")
    assert got.status_code == 404 and got.headers["content-type"].startswith("application/problem+json")
    assert "SECRETVN77" not in got.text and "NOPE" not in got.text
    assert await intake_pool.fetchval("SELECT count(*) FROM disclosures") == 0
