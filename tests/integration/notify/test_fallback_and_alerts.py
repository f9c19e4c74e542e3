"""Retries and fallback across SMS, email (SMTP, STARTTLS, AUTH), Web Push (VAPID) and a signed paging webhook;
supervisor alerts repeated until acknowledged; a facility nobody covers is reported."""
from __future__ import annotations

import asyncio
import email as email_parser
import json
import uuid
from datetime import timedelta
from email import policy as email_policy

import httpx
import pytest

from services.runtime import topics
from tests.support.fixtures import wait_for
from tests.support.when import iso, now

from .conftest import facility, phone
from .test_offers_and_replies import offer

pytestmark = pytest.mark.integration


async def _messages(svc, n, **query):
    found = await svc.messages(**query)
    return found if len(found) >= n and all(m["status"] not in ("queued",) for m in found[:n]) else None


async def test_a_failing_sms_provider_is_retried_then_the_peer_is_emailed_over_starttls(notify_app, sms, smtp):
    fac, peer, mobile = facility(), str(uuid.uuid4()), phone()
    email = f"peer-{uuid.uuid4().hex[:6]}@example.org"
    async with notify_app(max_attempts=3) as svc:
        await svc.contacts("specialist", peer, [{"channel": "sms", "address": mobile},
                                                {"channel": "email", "address": email}])
        sms.fail_next[:] = [500, 429, 503]
        data = offer(fac, "V" + uuid.uuid4().hex[:8], peer)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", data)
        first, second = await wait_for(lambda: _messages(svc, 2, assignment_id=data["assignment_id"]), timeout=30)
        assert (first["channel"], first["status"], first["attempts"]) == ("sms", "failed", 3)
        assert first["error_class"] == "http-503"
        assert (second["channel"], second["status"]) == ("email", "delivered")
        mail = next(m for m in smtp.messages if email in m.rcpt_tos)
        parsed = email_parser.message_from_bytes(mail.content, policy=email_policy.default)
        assert parsed["Subject"] == "PeerBridge: Peer support requested"
        assert data["assignment_id"] in parsed.get_content()
        refused = [r for r in sms.received if r.form.get("To") == mobile]
        assert [r.refused for r in refused] == ["failed-500", "failed-429", "failed-503"]


async def test_an_sms_not_reported_delivered_in_time_falls_back_to_web_push_with_a_valid_vapid_header(
        notify_app, sms, push):
    fac, peer, mobile = facility(), str(uuid.uuid4()), phone()
    subscription = json.dumps({"endpoint": f"{push.url}/push/{uuid.uuid4().hex}",
                               "keys": {"p256dh": "BNc", "auth": "x"}})
    async with notify_app(fallback_seconds=1.0) as svc:
        await svc.contacts("specialist", peer, [{"channel": "sms", "address": mobile},
                                                {"channel": "push", "address": subscription}], verify=False)
        r = await svc.client.get(f"/contacts/specialist/{peer}", headers=svc.headers("peer", peer))
        assert [c["verified"] for c in r.json()] == [False, True]  # the app registered it: no code needed
        await svc.pool.execute("UPDATE contacts SET verified_at = now() WHERE person_id = $1", peer)
        data = offer(fac, "V" + uuid.uuid4().hex[:8], peer)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", data)
        texted, pushed = await wait_for(lambda: _messages(svc, 2, assignment_id=data["assignment_id"]), timeout=30)
        assert (texted["channel"], texted["status"]) == ("sms", "sent")
        assert (pushed["channel"], pushed["status"]) == ("push", "delivered")
        [request] = [r for r in push.received if subscription.split('"')[3].endswith(r.path)]
        assert request.refused is None and request.body == b""  # no payload: nothing passes the push service


async def _alerts(svc, fac, repeats):
    found = (await svc.client.get("/alerts", params={"facility": fac}, headers=svc.headers("supervisor"))).json()
    return found if found and found[0]["repeats"] >= repeats else None


async def test_an_escalation_pages_the_rota_supervisor_by_signed_webhook_until_acknowledged(notify_app, pager):
    fac, number = facility(), "V" + uuid.uuid4().hex[:8]
    lead = f"lead-{uuid.uuid4().hex[:6]}"
    async with notify_app(alert_repeat_minutes=0.02, alert_repeat_limit=5) as svc:
        await svc.contacts("supervisor", lead, [{"channel": "webhook", "address": f"{pager.url}/page/{lead}"}],
                           verify=False)
        rota = [{"supervisor_id": lead, "starts_at": iso(now() - timedelta(hours=1)),
                 "ends_at": iso(now() + timedelta(hours=1))}]
        r = await svc.client.put(f"/oncall/{fac}", json=rota, headers=svc.headers("supervisor"))
        assert r.status_code == 200 and r.json()["on_call_now"] == lead
        await svc.publish(topics.PAIRING_ASSIGNMENT, "NoPeerAvailable",
                          {"facility": fac, "visit_number": number, "escalated_at": iso(now()),
                           "reason": "no eligible peer on shift", "supervisor": "program-default"})
        [alert] = await wait_for(lambda: _alerts(svc, fac, 2), timeout=30)
        pages = [r for r in pager.accepted() if r.path == f"/page/{lead}"]
        assert len(pages) >= 2 and all(r.refused is None for r in pager.received if r.path == f"/page/{lead}")
        body = json.loads(pages[0].body)
        assert body["kind"] == "alert" and fac in body["text"] and "no peer available" in body["text"]
        assert "reminder 1" in json.loads(pages[1].body)["text"]
        r = await svc.client.post(f"/alerts/{alert['id']}/ack", headers=svc.headers("supervisor"))
        assert r.status_code == 200 and r.json()["acked_via"] == "api"
        repeats = r.json()["repeats"]
        count = len([p for p in pager.accepted() if p.path == f"/page/{lead}"])
        await asyncio.sleep(2.0)
        assert len([p for p in pager.accepted() if p.path == f"/page/{lead}"]) <= count + 1  # one may be in flight
        [after] = await _alerts(svc, fac, 0)
        assert after["repeats"] == repeats and after["acked_at"] is not None


async def test_alert_reminders_stop_at_the_limit_and_a_supervisor_can_acknowledge_by_text(notify_app, sms):
    fac, lead, mobile = facility(), f"lead-{uuid.uuid4().hex[:6]}", phone()
    async with notify_app(alert_repeat_minutes=0.01, alert_repeat_limit=2, oncall={fac: lead}) as svc:
        await svc.contacts("supervisor", lead, [{"channel": "sms", "address": mobile}])
        await svc.publish(topics.PAIRING_ASSIGNMENT, "NoPeerAvailable",
                          {"facility": fac, "visit_number": "V1", "escalated_at": iso(now())})
        await wait_for(lambda: _n_texts(sms, mobile, 3), timeout=30)
        await asyncio.sleep(1.5)
        assert len(sms.texts_to(mobile)) == 3  # the first and two reminders, then it stops (and is logged)
        r = await sms.reply("http://notify", mobile, "OK", client=svc.client)
        assert "acknowledged" in r.text
        [alert] = await _alerts(svc, fac, 0)
        assert alert["acked_via"] == "sms"


async def _n_texts(sms, number, n):
    return len(sms.texts_to(number)) >= n


async def test_a_facility_with_nobody_to_escalate_to_is_reported_on_readyz_and_as_a_metric(notify_app):
    covered, bare = facility(), facility()
    async with notify_app(facilities=[covered, bare], oncall={covered: "lead-x"}) as svc:
        await svc.contacts("supervisor", "lead-x", [{"channel": "sms", "address": phone()}])
        r = await svc.client.get("/readyz")
        assert r.status_code == 200
        uncovered = r.json()["detail"]["escalation_uncovered"]
        assert bare in uncovered and covered not in uncovered
        metrics = (await svc.client.get("/metrics")).text
        assert f'notify_escalation_uncovered{{facility="{bare}"}} 1.0' in metrics
        assert f'notify_escalation_uncovered{{facility="{covered}"}} 0.0' in metrics
        await svc.publish(topics.PAIRING_ASSIGNMENT, "NoPeerAvailable",
                          {"facility": bare, "visit_number": "V2", "escalated_at": iso(now())})
        [alert] = await wait_for(lambda: _alerts(svc, bare, 0), timeout=30)
        assert alert["supervisor_id"] is None
        text = (await svc.client.get("/metrics")).text
        assert 'notify_recipients_unreachable_total{kind="alert",reason="no-supervisor"}' in text


def test_the_doubles_refuse_what_a_real_provider_would(sms, push, pager):
    assert httpx.post(f"{sms.url}/2010-04-01/Accounts/{sms.account_sid}/Messages.json",
                      data={"To": "+15550000000", "From": sms.sender, "Body": "x"}, auth=("x", "y")).status_code == 401
    assert httpx.post(f"{push.url}/push/x", headers={"Authorization": "vapid t=a.b.c,k=AAAA"}).status_code == 401
    assert httpx.post(f"{pager.url}/page/x", content=b"{}",
                      headers={"X-PeerBridge-Timestamp": "1", "X-PeerBridge-Signature": "sha256=00"}).status_code == 401


async def test_a_verification_code_that_cannot_be_texted_is_not_sent_on_another_channel(notify_app, sms, smtp):
    peer, mobile, email = str(uuid.uuid4()), phone(), f"v-{uuid.uuid4().hex[:6]}@example.org"
    async with notify_app(max_attempts=1) as svc:
        await svc.contacts("specialist", peer, [{"channel": "email", "address": email}])  # verified
        r = await svc.client.put(f"/contacts/specialist/{peer}", headers=svc.headers("admin"),
                                 json={"channels": [{"channel": "sms", "address": mobile},
                                                    {"channel": "email", "address": email}]})
        assert [c["verified"] for c in r.json()] == [False, True]
        sms.fail_next[:] = [400]
        r = await svc.client.post(f"/contacts/specialist/{peer}/verification", headers=svc.headers("admin"),
                                  json={"channel": "sms", "address": mobile})
        assert r.json()["status"] == "sent"
        await wait_for(lambda: _refused(sms, mobile), timeout=30)
        await asyncio.sleep(1.0)
        assert not [m for m in smtp.messages if email in m.rcpt_tos]


async def _refused(sms, number):
    return [r for r in sms.received if r.form.get("To") == number and r.refused]
