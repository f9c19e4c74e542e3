"""Follow-up windows: the case's peer is texted when a window opens and before it closes, once per event, with when
it closes and a link to the case, and nothing about the patient."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.runtime import topics
from services.runtime.envelope import new_event
from tests.support.fixtures import wait_for
from tests.support.when import iso, now

from .conftest import facility, phone

pytestmark = pytest.mark.integration


def window(fac: str, number: str, specialist: str, case_id: str) -> dict:
    return {"case_id": case_id, "touchpoint_id": 7, "facility": fac, "visit_number": number,
            "specialist_id": specialist, "kind": "follow-up", "opens_at": iso(now()),
            "closes_at": iso(now() + timedelta(days=2))}


async def test_a_window_opening_and_closing_texts_the_peer_once_each_with_a_link_to_the_case(notify_app, sms):
    fac, number, peer, mobile, case_id = facility(), "V" + uuid.uuid4().hex[:8], str(uuid.uuid4()), phone(), \
        str(uuid.uuid4())
    async with notify_app() as svc:
        await svc.contacts("specialist", peer, [{"channel": "sms", "address": mobile}])
        data = window(fac, number, peer, case_id)
        opened = new_event("test", "FollowUpWindowOpened", data)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "FollowUpWindowOpened", data, event=opened)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "FollowUpWindowOpened", data, event=opened)  # redelivered
        await svc.publish(topics.PAIRING_ASSIGNMENT, "FollowUpWindowClosing", data)

        async def texts():
            found = sms.texts_to(mobile)
            return found if len(found) >= 2 else None
        first, second = await wait_for(texts, timeout=30)
        bodies = sorted(t.form["Body"] for t in (first, second))
        assert bodies[0].startswith("PeerBridge: a follow-up call is due for one of your cases, until")
        assert bodies[1].startswith("PeerBridge: reminder, a follow-up call window closes")
        assert all(b.endswith(f"http://127.0.0.1:8005/peer/cases/{case_id}") for b in bodies)
        assert number not in " ".join(bodies)
        rows = await svc.pool.fetch("SELECT kind FROM messages WHERE recipient_id = $1 ORDER BY kind", peer)
        assert [r["kind"] for r in rows] == ["followup-closing", "followup-open"]
        assert len(sms.texts_to(mobile)) == 2
