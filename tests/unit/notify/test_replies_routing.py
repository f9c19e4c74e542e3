"""Reply parsing, channel choice and fallback order, and who is on call: pure rules, no I/O."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notify.domain.replies import Reply, parse_reply
from services.notify.domain.routing import LOG_CONTACT, Contact, next_contact, on_call, usable

pytestmark = pytest.mark.unit
T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)  # arbitrary


@pytest.mark.parametrize("body,expected", [
    ("1", Reply("accept")), ("YES", Reply("accept")), (" y ", Reply("accept")), ("Yes!", Reply("accept")),
    ("1 4821", Reply("accept", "4821")), ("2", Reply("decline")), ("No", Reply("decline")),
    ("n busy", Reply("decline", reason="busy")), ("2 4821 far", Reply("decline", "4821", "too-far")),
    ("NO because my cat", Reply("decline", reason="other")), ("ok", Reply("ack")), ("OK.", Reply("ack")),
    ("", Reply("unknown")), ("maybe", Reply("unknown")), ("3", Reply("unknown")), ("yesterday", Reply("unknown")),
    ("ok fine", Reply("unknown")),
])
def test_replies_are_understood_as_a_peer_would_type_them(body, expected):
    assert parse_reply(body) == expected


@given(st.text(max_size=200))
def test_any_text_parses_and_a_decline_reason_is_never_free_text(body):
    reply = parse_reply(body)
    assert reply.answer in {"accept", "decline", "ack", "unknown"}
    assert reply.reason in {None, "busy", "too-far", "off-shift", "unwell", "conflict", "caseload", "other"}


def c(channel, rank, verified=True, cid=None):
    return Contact(cid or f"{channel}-{rank}", channel, f"addr-{channel}", rank, verified)


def test_the_first_channel_is_the_most_preferred_verified_one_and_fallback_follows_the_order():
    contacts = usable([c("email", 2), c("sms", 1, verified=False), c("push", 3), c("webhook", 4)])
    assert [x.channel for x in contacts] == ["email", "push", "webhook"]
    assert next_contact(contacts, set()).channel == "email"
    assert next_contact(contacts, {"email"}).channel == "push"
    assert next_contact(contacts, {"email", "push", "webhook"}) is None


def test_nobody_verified_reaches_nobody_except_on_the_local_stack_where_the_log_channel_stands_in():
    assert usable([c("sms", 1, verified=False)]) == []
    assert usable([c("sms", 1, verified=False)], log_when_none=True) == [LOG_CONTACT]


def test_the_rota_beats_the_program_setting_which_beats_the_standing_default():
    rota = [{"facility": "F1", "supervisor_id": "night", "starts_at": T0, "ends_at": T0 + timedelta(hours=8)},
            {"facility": "F1", "supervisor_id": "cover", "starts_at": T0 + timedelta(hours=2),
             "ends_at": T0 + timedelta(hours=3)},
            {"facility": "F2", "supervisor_id": "elsewhere", "starts_at": T0, "ends_at": T0 + timedelta(hours=8)}]
    standing = {"F1": "f1-lead", "*": "everyone-lead"}
    assert on_call("F1", T0 + timedelta(hours=1), rota, standing, "program") == "night"
    assert on_call("F1", T0 + timedelta(hours=2, minutes=30), rota, standing) == "cover"  # the later start wins
    assert on_call("F1", T0 + timedelta(hours=9), rota, standing, "program") == "program"
    assert on_call("F1", T0 + timedelta(hours=9), rota, standing) == "f1-lead"
    assert on_call("F3", T0, rota, standing) == "everyone-lead"
    assert on_call("F3", T0, rota, {}) is None
