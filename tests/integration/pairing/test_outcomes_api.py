"""GET /outcomes on real PostgreSQL: JSON with definitions, CSV, a valid FHIR MeasureReport, roles, bad bounds, and
crisis hand-offs and supervision sessions as the care routes record them (read only where their tables exist)."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

import httpx
import pytest

from services.pairing.app import create_app
from services.pairing.settings import PairingSettings
from services.runtime.auth import issue_token
from tests.unit.pairing.builders import NOW

pytestmark = pytest.mark.integration
SECRET = "pairing-outcomes-test-secret-0123456789"
PERIOD = {"facility": "F1", "from": (NOW - timedelta(days=1)).isoformat(), "to": (NOW + timedelta(days=1)).isoformat()}


def headers(role: str, **extra) -> dict:
    token = issue_token(SECRET, role=role, issuer="peerbridge-local", audience="peerbridge",
                        specialist_id="00000000-0000-0000-0000-000000000001" if role == "peer" else None)
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
async def api(harness):
    """The pairing app on the harness's schema and clock (no broker: nothing here publishes)."""
    app = create_app(PairingSettings(jwt_secret=SECRET))
    runtime = app.state.runtime
    runtime.pool, runtime.clock = harness.pool, harness.clock
    app.state.verifier = runtime.verifier()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pairing") as client:
        yield client


async def one_seen_one_missed(harness) -> str:
    """Two indicated visits at F1: peer a accepts the first at +2 min and arrives at +45 (within 60); the second's
    offer expires and nobody else is on shift, so it escalates. Returns peer a's id."""
    a = await harness.add_peer("a")
    seen = await harness.open_visit()
    [offer] = await harness.assignments(seen)
    harness.clock.advance(minutes=2)
    async with harness.uow() as uow:
        await harness.service.accept(uow, offer)
    harness.clock.advance(minutes=43)
    async with harness.uow() as uow:
        await harness.service.arrive(uow, await uow.store.get_assignment(offer["id"], lock=True))
    await harness.open_visit()  # offered to a (caseload permits), who lets it expire
    harness.clock.advance(minutes=11)
    await harness.worker.process_due()
    return a


def figures(body: dict) -> dict:
    return {m["id"]: (m["numerator"], m["denominator"], m["value"]) for m in body["measures"]}


async def test_outcomes_answer_every_figure_with_its_definition(harness, api):
    await one_seen_one_missed(harness)
    r = await api.get("/outcomes", params=PERIOD, headers=headers("supervisor"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["facility"], body["group_by"], body["groups"]) == ("F1", "none", [])
    f = figures(body)
    assert f["indicated"] == (2, None, 2) and f["offered"] == (2, 2, 100.0) and f["accepted"] == (1, 2, 50.0)
    assert f["seen-within-target"] == (1, 2, 50.0) and f["time-to-bedside-median"] == (None, 1, 45.0)
    assert f["time-to-accept-median"] == (None, 1, 2.0) and f["crisis-handoffs"] == (0, None, 0)
    assert all(m["definition"] and m["label"] and m["unit"] for m in body["measures"])
    assert not any("note" in m for m in body["measures"])


async def test_crisis_hand_offs_and_supervision_recorded_by_the_care_routes_are_counted(harness, api):
    a = await one_seen_one_missed(harness)
    case = await harness.pool.fetchval("SELECT id::text FROM cases ORDER BY opened_at LIMIT 1")
    r = await api.post(f"/cases/{case}/crisis", json={}, headers=headers("supervisor"))
    assert r.status_code == 201, r.text
    session = {"held_on": NOW.date().isoformat(), "supervisor": "sup-1", "minutes": 90, "format": "individual",
               "topics": ["boundaries"]}
    r = await api.post(f"/specialists/{a}/supervision-sessions", json=session, headers=headers("supervisor"))
    assert r.status_code == 201, r.text
    r = await api.get("/outcomes", params={**PERIOD, "group_by": "peer"}, headers=headers("admin"))
    body = r.json()
    assert figures(body)["crisis-handoffs"] == (1, None, 1)
    [peer] = [g for g in body["groups"] if g["key"] == {"specialist_id": a}]
    got = {m["id"]: (m["numerator"], m["denominator"], m["value"]) for m in peer["measures"]}
    # A two-day period: one started 30-day period of the default requirement, 2 hours; 1.5 held.
    assert got["supervision-hours"] == (1.5, 2, 75.0)
    assert got["peer-offers"] == (2, None, 2) and got["peer-accepted"] == (1, 2, 50.0)
    assert got["peer-cases"] == (1, None, 1) and got["peer-caseload"] == (1, None, 1)


async def test_a_deployment_without_the_care_tables_reports_zero_with_a_note(harness, api):
    await one_seen_one_missed(harness)
    await harness.pool.execute("DROP TABLE crisis_handoffs; DROP TABLE supervision_sessions")
    body = (await api.get("/outcomes", params={**PERIOD, "group_by": "peer"}, headers=headers("admin"))).json()
    crisis = next(m for m in body["measures"] if m["id"] == "crisis-handoffs")
    assert crisis["value"] == 0 and "does not exist" in crisis["note"]
    supervision = [next(m for m in g["measures"] if m["id"] == "supervision-hours") for g in body["groups"]]
    assert supervision and all(m["numerator"] == 0 and "does not exist" in m["note"] for m in supervision)


async def test_outcomes_as_csv_and_as_a_valid_measure_report(harness, api, assert_valid_fhir):
    await one_seen_one_missed(harness)
    r = await api.get("/outcomes", params={**PERIOD, "group_by": "facility"},
                      headers=headers("supervisor", Accept="text/csv"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["group"] for row in rows} == {"all", "facility=F1"}
    within = next(row for row in rows if row["group"] == "all" and row["id"] == "seen-within-target")
    assert (within["numerator"], within["denominator"], within["value"], within["unit"]) == ("1", "2", "50.0", "%")
    assert (await api.get("/outcomes", params={**PERIOD, "format": "csv"}, headers=headers("admin"))).text == \
        (await api.get("/outcomes", params=PERIOD, headers=headers("admin", Accept="text/csv"))).text
    r = await api.get("/outcomes", params={**PERIOD, "format": "fhir"}, headers=headers("supervisor"))
    assert r.headers["content-type"].startswith("application/fhir+json")
    report = r.json()
    assert_valid_fhir(report)
    assert report["period"] == {"start": PERIOD["from"], "end": PERIOD["to"]}
    group = next(g for g in report["group"] if g["id"] == "seen-within-target")
    assert [p["count"] for p in group["population"]] == [1, 2] and group["measureScore"]["value"] == 50.0


async def test_outcomes_are_for_supervisors_and_admins_and_bad_bounds_are_422(harness, api):
    assert (await api.get("/outcomes", headers=headers("peer"))).status_code == 403
    assert (await api.get("/outcomes")).status_code == 401
    for params, field in (({"from": "yesterday"}, "from"), ({"to": "2001-13-01"}, "to"),
                          ({"from": "2001-01-02", "to": "2001-01-01"}, "from"),
                          ({"from": "2001-01-01T00:00:00"}, "from")):
        r = await api.get("/outcomes", params=params, headers=headers("supervisor"))
        assert r.status_code == 422 and field in r.json()["detail"], (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await api.get("/outcomes", params={"group_by": "planet"}, headers=headers("supervisor"))
    assert r.status_code == 422
