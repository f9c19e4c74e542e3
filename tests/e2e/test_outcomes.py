"""Outcomes on the running stack: a visit at intake seen at the bedside, then GET /outcomes in JSON, CSV and FHIR."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from services.pairing.domain.outcome_measures import ALL_PROGRAM
from tests.e2e.test_pairing_flow import poll
from tests.unit.pairing.builders import npi, peer

pytestmark = pytest.mark.e2e


def test_get_outcomes_on_the_running_stack_gives_every_figure_with_its_definition(stack, assert_valid_fhir):
    pairing, admin = stack.urls["pairing"], stack.headers("admin")
    facility = f"O{uuid.uuid4().hex[:6].upper()}"
    now = datetime.now(timezone.utc)
    me = httpx.post(f"{pairing}/specialists", json=peer("outcomes", facility, npi=npi()), headers=admin).json()["id"]
    shift = [{"facility": facility, "starts_at": (now - timedelta(hours=1)).isoformat(),
              "ends_at": (now + timedelta(hours=8)).isoformat()}]
    assert httpx.put(f"{pairing}/specialists/{me}/shifts", json=shift, headers=admin).status_code == 200
    visit = {"facility": facility, "visit_number": "V" + uuid.uuid4().hex[:8], "arrived_at": now.isoformat(),
             "language": "en", "diagnoses": ["T40.1X1A"], "patient_ref": {"system": "urn:test:mrn", "value": "M-O1"}}
    assert httpx.post(f"{stack.urls['intake']}/visits", json=visit, headers=stack.headers("ehr")).status_code == 202
    [offer] = poll(lambda: httpx.get(f"{pairing}/assignments", params={"facility": facility},
                                     headers=stack.headers("supervisor")).json())
    mine = stack.headers("peer", me)
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/accept", headers=mine).status_code == 200
    assert httpx.post(f"{pairing}/assignments/{offer['id']}/arrive", headers=mine).status_code == 200

    query = {"facility": facility, "from": (now - timedelta(hours=1)).isoformat(),
             "to": (now + timedelta(hours=1)).isoformat(), "group_by": "peer"}
    r = httpx.get(f"{pairing}/outcomes", params=query, headers=stack.headers("supervisor"))
    assert r.status_code == 200, r.text
    body = r.json()
    figures = {m["id"]: m for m in body["measures"]}
    assert list(figures) == [d.id for d in ALL_PROGRAM] and all(m["definition"] for m in figures.values())
    assert [figures[k]["value"] for k in ("indicated", "seen-at-bedside", "seen-within-target")] == [1, 100.0, 100.0]
    assert [g["key"] for g in body["groups"]] == [{"specialist_id": me}]
    csv = httpx.get(f"{pairing}/outcomes", params=query, headers={**stack.headers("admin"), "Accept": "text/csv"})
    assert csv.text.splitlines()[0] == "group,id,label,numerator,denominator,value,unit,definition"
    report = httpx.get(f"{pairing}/outcomes", params={**query, "format": "fhir"}, headers=stack.headers("admin"))
    assert_valid_fhir(report.json())
    assert httpx.get(f"{pairing}/outcomes", headers=stack.headers("peer", me)).status_code == 403
