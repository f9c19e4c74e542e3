"""Offers reach the peer by SMS once, receipts move the status, and texted replies become notify.reply.v1."""
from __future__ import annotations

import email as email_parser
import json
import re
import uuid
from datetime import timedelta
from email import policy as email_policy

import pytest

from services.runtime import topics
from services.runtime.envelope import new_event
from tests.support.fixtures import read_topic, wait_for
from tests.support.when import iso, now

from .conftest import BASE, facility, phone

pytestmark = pytest.mark.integration


def visit(fac: str, number: str, **extra) -> dict:
    return {"facility": fac, "visit_number": number, "arrived_at": iso(now()), "location": "ED-EAST", "bed": "12",
            "gender": "female", "age_years": 117, "diagnoses": ["T401X1A"], "peer_indicated": True,
            "indications": [{"kind": "diagnosis", "code": "T401X1A", "category": "opioid-poisoning",
                             "substance": "opioids", "reason": "heroin overdose"}],
            "patient_ref": {"system": "urn:mrn", "value": "MRN-445566"}, **extra}


def offer(fac: str, number: str, specialist: str, minutes: float = 10) -> dict:
    return {"assignment_id": str(uuid.uuid4()), "facility": fac, "visit_number": number, "specialist_id": specialist,
            "offered_at": iso(now()), "expires_at": iso(now() + timedelta(minutes=minutes)), "attempt": 1}


async def sent_texts(sms, number, count=1):
    return await wait_for(lambda: _texts(sms, number, count), timeout=30)


async def _texts(sms, number, count):
    found = sms.texts_to(number)
    return found if len(found) >= count else None


async def test_an_offer_is_texted_once_with_the_place_code_and_link_and_no_phi_and_receipts_move_its_status(
        notify_app, sms, infra):
    fac, number, peer, mobile = facility(), "V" + uuid.uuid4().hex[:8], str(uuid.uuid4()), phone()
    async with notify_app() as svc:
        await svc.contacts("specialist", peer, [{"channel": "sms", "address": mobile}])
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(fac, number))
        data = offer(fac, number, peer)
        event = new_event("test", "PeerAssignmentOffered", data)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", data, event=event)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", data, event=event)  # redelivered
        [text] = await sent_texts(sms, mobile)
        body = text.form["Body"]
        assert f"{fac}, ED-EAST, bay 12" in body and "Reply 1 to accept, 2 to decline" in body
        assert body.endswith(f"http://127.0.0.1:8005/peer/offers/{data['assignment_id']}")
        # Whole tokens only: the reply code and the expiry time are digits too (an age of 41 once matched "2417").
        # The age is one no time of day or four-digit code can show as a token.
        for phi in ("MRN-445566", "heroin", "overdose", "opioid", "female", "117", "T401X1A"):
            assert not re.search(rf"(?<![A-Za-z0-9]){re.escape(phi)}(?![A-Za-z0-9])",
                                 body.replace(data["assignment_id"], ""), re.I), phi
        assert text.form["StatusCallback"] == f"{BASE}/sms/status"

        [m] = await wait_for(lambda: _status(svc, data["assignment_id"], "sent"))
        assert (m["channel"], m["recipient_id"], m["kind"], m["attempts"]) == ("sms", peer, "offer", 1)
        r = await svc.client.get(f"/messages/{m['id']}", headers=svc.headers("peer", peer))
        assert r.status_code == 403  # statuses are for supervisors
        forged = await svc.client.post("/sms/status", data={"MessageSid": text.form["_sid"],
                                                            "MessageStatus": "failed"})
        assert forged.status_code == 403
        r = sms.receipt(BASE, text.form["_sid"], "delivered", client=svc.client)
        assert (await r).status_code == 204
        [m] = await wait_for(lambda: _status(svc, data["assignment_id"], "delivered"))
        assert m["delivered_at"] is not None
        assert len(sms.texts_to(mobile)) == 1  # the redelivered event sent nothing more
        records = await read_topic(infra.kafka_bootstrap, svc.prefix + topics.NOTIFY_DELIVERY, expect=3)
    statuses = [json.loads(r.value)["data"]["status"] for r in records
                if json.loads(r.value)["data"]["visit_number"] == number]
    assert statuses == ["queued", "sent", "delivered"]
    assert not any(mobile in r.value.decode() or "ED-EAST" in r.value.decode() for r in records)


async def _status(svc, assignment_id, status):
    found = await svc.messages(assignment_id=assignment_id)
    return found if found and all(m["status"] == status for m in found) else None


async def test_a_texted_1_from_the_verified_number_accepts_and_a_late_or_stranger_reply_changes_nothing(
        notify_app, sms, infra):
    fac, number, peer, mobile = facility(), "V" + uuid.uuid4().hex[:8], str(uuid.uuid4()), phone()
    async with notify_app() as svc:
        await svc.contacts("specialist", peer, [{"channel": "sms", "address": mobile}])
        first, second = offer(fac, number, peer), offer(fac, number + "B", peer)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", first)
        await sent_texts(sms, mobile)

        unsigned = await svc.client.post("/sms/inbound", data={"From": mobile, "Body": "1", "MessageSid": "SMx"})
        assert unsigned.status_code == 403
        stranger = await sms.reply(BASE, phone(), "1", client=svc.client)
        assert stranger.status_code == 200 and "<Message>" not in stranger.text

        accepted = await sms.reply(BASE, mobile, "YES", client=svc.client)
        assert accepted.status_code == 200 and "accepted" in accepted.text
        assert accepted.headers["content-type"].startswith("application/xml")
        [m] = await wait_for(lambda: _status(svc, first["assignment_id"], "replied"))
        again = await sms.reply(BASE, mobile, "1", client=svc.client)
        assert "no longer open" in again.text  # answered already: nothing is open

        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", second)
        await sent_texts(sms, mobile, 2)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentExpired",
                          {k: second[k] for k in ("assignment_id", "facility", "visit_number", "specialist_id")}
                          | {"expired_at": iso(now())})
        await wait_for(lambda: _closed(svc, second["assignment_id"]))
        late = await sms.reply(BASE, mobile, "2 busy", client=svc.client)
        assert "no longer open" in late.text
        records = await read_topic(infra.kafka_bootstrap, svc.prefix + topics.NOTIFY_REPLY, expect=1)
    replies = [json.loads(r.value)["data"] for r in records]
    assert [(r["assignment_id"], r["answer"], r["specialist_id"]) for r in replies] == \
        [(first["assignment_id"], "accept", peer)]
    assert not any(mobile in r.value.decode() for r in records)


async def _closed(svc, assignment_id):
    return await svc.pool.fetchval("SELECT status <> 'offered' FROM offers WHERE assignment_id = $1", assignment_id)


async def test_a_decline_carries_a_reason_from_the_fixed_list_and_a_peer_with_two_offers_must_give_a_code(
        notify_app, sms, infra):
    fac, peer, mobile = facility(), str(uuid.uuid4()), phone()
    async with notify_app() as svc:
        await svc.contacts("specialist", peer, [{"channel": "sms", "address": mobile}])
        a, b = offer(fac, "VA" + uuid.uuid4().hex[:6], peer), offer(fac, "VB" + uuid.uuid4().hex[:6], peer)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", a)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", b)
        texts = await sent_texts(sms, mobile, 2)
        code_b = next(t.form["Body"].split("(code ")[1][:4] for t in texts if b["assignment_id"] in t.form["Body"])
        ambiguous = await sms.reply(BASE, mobile, "2", client=svc.client)
        assert "add its code" in ambiguous.text
        declined = await sms.reply(BASE, mobile, f"no {code_b} my patient's name is Jane", client=svc.client)
        assert "declined" in declined.text
        records = await read_topic(infra.kafka_bootstrap, svc.prefix + topics.NOTIFY_REPLY, expect=1)
    [reply] = [json.loads(r.value)["data"] for r in records]
    assert (reply["assignment_id"], reply["answer"], reply["reason_code"]) == (b["assignment_id"], "decline", "other")
    assert "Jane" not in records[0].value.decode()


async def test_a_phone_number_and_an_email_are_verified_by_one_time_codes_before_anything_is_sent_to_them(
        notify_app, sms, smtp):
    peer, mobile = str(uuid.uuid4()), phone()
    async with notify_app() as svc:
        mine, other = svc.headers("peer", peer), svc.headers("peer", str(uuid.uuid4()))
        body = {"channels": [{"channel": "sms", "address": mobile}, {"channel": "email", "address": "p@example.org"}]}
        assert (await svc.client.put(f"/contacts/specialist/{peer}", json=body, headers=other)).status_code == 404
        pager = {"channels": [{"channel": "webhook", "address": "https://pager.example/me"}]}
        r = await svc.client.put(f"/contacts/specialist/{peer}", json=pager, headers=mine)
        assert r.status_code == 422 and "webhook" in r.json()["detail"]
        bad = {"channels": [{"channel": "sms", "address": "555-1234"}]}
        r = await svc.client.put(f"/contacts/specialist/{peer}", json=bad, headers=mine)
        assert r.status_code == 422 and "555-1234" not in r.text
        r = await svc.client.put(f"/contacts/specialist/{peer}", json=body, headers=mine)
        assert r.status_code == 200 and [c["verified"] for c in r.json()] == [False, False]
        ask = {"channel": "sms", "address": mobile}
        r = await svc.client.post(f"/contacts/specialist/{peer}/verification", json=ask, headers=mine)
        assert r.json()["status"] == "sent"
        again = await svc.client.post(f"/contacts/specialist/{peer}/verification", json=ask, headers=mine)
        assert again.json()["status"] == "sent-recently"
        [text] = await sent_texts(sms, mobile)
        code = text.form["Body"].split("code: ")[1][:6]
        wrong = "000000" if code != "000000" else "111111"
        r = await svc.client.post(f"/contacts/specialist/{peer}/verify", json={**ask, "code": wrong}, headers=mine)
        assert r.status_code == 422
        r = await svc.client.post(f"/contacts/specialist/{peer}/verify", json={**ask, "code": code}, headers=mine)
        assert r.status_code == 200
        r = await svc.client.get(f"/contacts/specialist/{peer}", headers=mine)
        assert [c["verified"] for c in r.json()] == [True, False]
        assert len(sms.texts_to(mobile)) == 1

        mail = {"channel": "email", "address": "p@example.org"}
        r = await svc.client.post(f"/contacts/specialist/{peer}/verification", json=mail, headers=mine)
        assert r.json()["status"] == "sent"
        [sent] = await wait_for(lambda: _mail_to(smtp, "p@example.org"), timeout=30)
        parsed = email_parser.message_from_bytes(sent.content, policy=email_policy.default)
        code = parsed.get_content().split("code: ")[1][:6]
        r = await svc.client.post(f"/contacts/specialist/{peer}/verify", json={**mail, "code": code}, headers=mine)
        assert r.status_code == 200
        r = await svc.client.get(f"/contacts/specialist/{peer}", headers=mine)
        assert [c["verified"] for c in r.json()] == [True, True]


async def _mail_to(smtp, address):
    return [m for m in smtp.messages if address in m.rcpt_tos]




async def test_a_burst_of_offers_to_many_peers_texts_each_exactly_once(notify_app, sms):
    fac, peers = facility(), [(str(uuid.uuid4()), phone()) for _ in range(30)]
    async with notify_app(batch=8) as svc:
        for peer, mobile in peers:
            await svc.contacts("specialist", peer, [{"channel": "sms", "address": mobile}])
        offers = [offer(fac, f"V{i:03d}" + uuid.uuid4().hex[:4], peer) for i, (peer, _) in enumerate(peers)]
        for data in offers:
            await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", data)
        await wait_for(lambda: _all_texted(sms, peers), timeout=60)

        async def all_recorded_sent():
            # The provider has the last request a moment before notify records its answer.
            return {m["status"] for m in await svc.messages(facility=fac)} == {"sent"}
        await wait_for(all_recorded_sent, timeout=30)
        assert [len(sms.texts_to(mobile)) for _, mobile in peers] == [1] * len(peers)


async def _all_texted(sms, peers):
    return all(sms.texts_to(mobile) for _, mobile in peers)


async def test_an_accept_texted_just_before_the_offer_lapsed_is_answered_no_longer_open_when_it_expires(
        notify_app, sms):
    fac, peer, mobile = facility(), str(uuid.uuid4()), phone()
    async with notify_app() as svc:
        await svc.contacts("specialist", peer, [{"channel": "sms", "address": mobile}])
        data = offer(fac, "V" + uuid.uuid4().hex[:8], peer)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentOffered", data)
        await sent_texts(sms, mobile)
        assert "accepted" in (await sms.reply(BASE, mobile, "1", client=svc.client)).text
        # pairing found the offer expired before it applied the reply, so it announces the expiry, not an accept
        await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentExpired",
                          {k: data[k] for k in ("assignment_id", "facility", "visit_number", "specialist_id")}
                          | {"expired_at": iso(now())})
        [_, notice] = await sent_texts(sms, mobile, 2)
        assert "no longer open" in notice.form["Body"]
