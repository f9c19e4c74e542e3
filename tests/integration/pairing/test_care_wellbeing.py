"""Peer wellbeing on real Kafka and PostgreSQL: supervision against the requirement, renewal warnings at 60 and 30
days, confidential leave (the reason for the supervisor only) and the batch re-match's preview and apply."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.pairing.renewals import RenewalWorker
from tests.unit.pairing.builders import CERTIFIED_UNTIL, NOW

from .care_support import facility

pytestmark = pytest.mark.integration
TODAY = NOW.date()


async def test_supervision_sessions_count_against_the_hours_required_and_repeat_without_doubling(care_api):
    f = facility()
    peer = await care_api.add_peer(f, "a", on_shift=False)
    url = f"/specialists/{peer}/supervision-sessions"
    session = {"held_on": (TODAY - timedelta(days=3)).isoformat(), "supervisor": "sup-lead", "minutes": 60,
               "format": "individual", "topics": ["boundaries", "ethics"]}
    first = await care_api.client.post(url, json=session, headers=care_api.headers())
    again = await care_api.client.post(url, json=session, headers=care_api.headers())
    assert (first.status_code, again.status_code, first.json()) == (201, 200, again.json())
    changed = await care_api.client.post(url, json={**session, "minutes": 90}, headers=care_api.headers())
    assert changed.status_code == 409
    old = {**session, "held_on": (TODAY - timedelta(days=45)).isoformat(), "format": "group", "minutes": 120}
    assert (await care_api.client.post(url, json=old, headers=care_api.headers())).status_code == 201
    future = {**session, "held_on": (TODAY + timedelta(days=1)).isoformat()}
    assert (await care_api.client.post(url, json=future, headers=care_api.headers())).status_code == 422
    assert (await care_api.client.post(url, json=session, headers=care_api.headers("peer", peer))).status_code == 403

    r = await care_api.client.get(f"/specialists/{peer}/supervision", headers=care_api.headers())
    standing = r.json()["standing"]
    # Only the last 30 days count: 1 h of the 2 h required.
    assert (standing["required_hours"], standing["held_hours"], standing["meets_requirement"]) == (2.0, 1.0, False)
    assert [s["topics"] for s in r.json()["sessions"]] == [["boundaries", "ethics"]]
    group = {**session, "format": "group", "minutes": 60, "topics": ["self-care"]}
    assert (await care_api.client.post(url, json=group, headers=care_api.headers())).status_code == 201
    overview = (await care_api.client.get("/supervision", params={"facility": f}, headers=care_api.headers())).json()
    assert [(p["specialist_id"], p["held_hours"], p["group_hours"], p["meets_requirement"]) for p in overview] == [
        (peer, 2.0, 1.0, True)]


async def test_renewals_are_listed_and_the_supervisor_warned_once_per_threshold(care_api):
    f = facility()
    certs = [{"kind": "CPRS", "number": "N1", "state": "NJ", "expires_on": (TODAY + timedelta(days=45)).isoformat()},
             {"kind": "PRS", "number": "N2", "state": "NJ", "expires_on": CERTIFIED_UNTIL,
              "ce_due_on": (TODAY + timedelta(days=20)).isoformat()}]
    peer = await care_api.add_peer(f, "a", on_shift=False, certifications=certs)
    listed = (await care_api.client.get("/renewals", headers=care_api.headers())).json()
    mine = [(r["credential"], r["kind"], r["days_left"], r["threshold_days"], r["supervisor"])
            for r in listed if r["specialist_id"] == peer]
    assert mine == [("continuing-education", "PRS", 20, 30, "sup-lead"), ("certification", "CPRS", 45, 60, "sup-lead")]
    worker = RenewalWorker(care_api.pool, care_api.app.state.service, care_api.clock)
    await worker.scan()
    await worker.scan()  # nothing new: each warning goes once
    warned = [e for e in await care_api.events("CredentialRenewalDue") if e["specialist_id"] == peer]
    assert sorted((e["credential"], e["threshold_days"]) for e in warned) == [
        ("certification", 60), ("continuing-education", 30)]
    # Fifteen days later the certification crosses 30 days: one more warning.
    care_api.clock.advance(days=15)
    try:
        await worker.scan()
    finally:
        care_api.clock.advance(days=-15)
    warned = [e for e in await care_api.events("CredentialRenewalDue") if e["specialist_id"] == peer]
    assert sorted((e["credential"], e["threshold_days"]) for e in warned) == [
        ("certification", 30), ("certification", 60), ("continuing-education", 30)]


async def test_leave_keeps_the_reason_for_the_supervisor_passes_offers_on_and_re_matches_after_approval(care_api):
    f = facility()
    leaving = await care_api.add_peer(f, "leaving", caseload_cap=5)
    cases = []
    for _ in range(2):
        data = await care_api.indicate(f)
        await care_api.accept(data)
        cases.append(data)
    pending = await care_api.indicate(f)  # an offer still waiting for the leaving peer
    b = await care_api.add_peer(f, "b", caseload_cap=2)
    mine, other = care_api.headers(subject="sup-lead"), care_api.headers(subject="sup-other")
    url = f"/specialists/{leaving}/leave"
    assert (await care_api.client.post(f"{url}/rematch", headers=mine)).status_code == 409  # not on leave
    inactive = await care_api.add_peer(f, "gone", on_shift=False, status="inactive")
    assert (await care_api.client.post(f"/specialists/{inactive}/leave", json={"reason": "personal"},
                                       headers=mine)).status_code == 409
    first = await care_api.client.post(url, json={"reason": "recurrence-of-use"}, headers=mine)
    again = await care_api.client.post(url, json={"reason": "recurrence-of-use"}, headers=mine)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["reason"] == "recurrence-of-use" and first.json()["status"] == "unavailable"
    seen = (await care_api.client.get(url, headers=other)).json()
    assert (seen["status"], seen["reason"]) == ("unavailable", None)
    admin = (await care_api.client.get(url, headers=care_api.headers("admin"))).json()
    assert admin["reason"] is None
    [passed_on] = await care_api.offers(pending)  # the pending offer went to the next peer at once
    assert str(passed_on["specialist_id"]) == b

    preview = await care_api.client.get(f"{url}/rematch", headers=mine)
    moves = preview.json()["moves"]
    assert sorted(m["case_id"] for m in moves) == sorted(str(d["case"]["id"]) for d in cases)
    # b holds the passed-on offer (1 of 2 slots): one case fits, the other has nobody.
    assert sorted(str(m["to_specialist_id"]) for m in moves) == sorted([b, "None"])
    for data in cases:  # the preview wrote nothing
        case = await care_api.case_of(data)
        assert str(case["specialist_id"]) == leaving
    stale = [{**m, "to_specialist_id": leaving} for m in moves]
    assert (await care_api.client.post(f"{url}/rematch", json={"moves": stale}, headers=mine)).status_code == 409
    applied = await care_api.client.post(f"{url}/rematch", json={"moves": moves}, headers=mine)
    assert applied.status_code == 200 and (applied.json()["rematched"], applied.json()["unassigned"]) == (1, 1)
    statuses = sorted([(await care_api.case_of(d))["status"] for d in cases])
    assert statuses == ["assigned", "escalated"]
    repeat = await care_api.client.post(f"{url}/rematch", headers=mine)
    assert repeat.status_code == 200 and repeat.json()["moves"] == []

    back = await care_api.client.delete(url, headers=mine)
    assert back.json()["status"] == "available"
    row = await care_api.pool.fetchrow("SELECT status, on_leave_since FROM specialists WHERE id = $1", leaving)
    assert (row["status"], row["on_leave_since"]) == ("active", None)

    # Back on leave, then made active again through the roster's PUT: the leave ends there too.
    assert (await care_api.client.post(url, json={"reason": "personal"}, headers=mine)).status_code == 201
    record = (await care_api.client.get(f"/specialists/{leaving}", headers=mine)).json()
    assert record["status"] == "on-leave"
    record = {k: v for k, v in record.items() if k not in ("id", "status_reason")}
    r = await care_api.client.put(f"/specialists/{leaving}", json={**record, "status": "active"}, headers=mine)
    assert r.status_code == 200, r.text
    assert (await care_api.client.get(url, headers=other)).json()["status"] == "available"
