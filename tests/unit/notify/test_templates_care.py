"""Crisis and renewal messages (issue 14): 'crisis' on an offer and nothing more, a crisis hand-off naming the place
and the route, a renewal naming only the credential and its date; none says anything about the patient."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from services.notify.domain.templates import ROUTE_NAMES, SUBJECTS, MessageContext, render, visit_place
from tests.unit.notify.test_templates import PHI, phi_visit

pytestmark = pytest.mark.unit
NOW = datetime(2031, 5, 6, 3, 12, tzinfo=timezone.utc)  # arbitrary, far from today
# Beyond the visit's data: what a crisis is about must not travel either.
CRISIS_PHI = PHI + ["suicide", "suicidal", "self-harm", "intentional", "R45851", "T1491", "overdose", "intent"]


def leaked(text: str) -> list[str]:
    return [p for p in CRISIS_PHI if re.search(rf"(?<![A-Za-z0-9]){re.escape(p)}(?![A-Za-z0-9])", text, re.I)]


@pytest.mark.parametrize("route", [*ROUTE_NAMES, None, "unknown-route"])
@pytest.mark.parametrize("location,bed", [("Pt Jane Doe heroin OD", "Smith, 41F"), ("ED", "12"), (None, None)])
def test_crisis_and_renewal_messages_say_nothing_about_the_patient(route, location, bed):
    where = visit_place(phi_visit(location, bed))
    for kind, ctx in [("crisis", MessageContext("MERCY", *where, route=route, link="http://c/peer/cases/x")),
                      ("offer", MessageContext("MERCY", *where, NOW, "1234", "http://c/o", crisis=True)),
                      ("renewal", MessageContext("", credential="continuing-education", due_on=date(2031, 7, 1)))]:
        text = render(kind, ctx, ZoneInfo("America/New_York")) + SUBJECTS.get(kind, "")
        assert not leaked(text.replace(ctx.link or "~", "")), (kind, text)


def test_a_crisis_offer_says_crisis_and_an_ordinary_one_does_not():
    ctx = MessageContext("MERCY", "ED", "12", NOW, "1234", "http://c/o")
    assert "CRISIS" not in render("offer", ctx)
    crisis = render("offer", MessageContext("MERCY", "ED", "12", NOW, "1234", "http://c/o", crisis=True))
    assert crisis.startswith("PeerBridge: CRISIS - peer support requested at MERCY, ED, bay 12.")
    assert len(crisis) <= 320


def test_a_crisis_hand_off_names_the_place_and_the_route():
    text = render("crisis", MessageContext("MERCY", "ED", "12", route="mobile-crisis", link="http://c/peer/cases/x"))
    assert text == ("PeerBridge: CRISIS at MERCY, ED, bay 12. Hand-off to the mobile crisis team. Open the case in the"
                    " app and record the hand-off. http://c/peer/cases/x")


def test_a_renewal_names_the_credential_and_its_date_only():
    text = render("renewal", MessageContext("", credential="certification", due_on=date(2031, 7, 1)))
    assert text.startswith("PeerBridge: a peer's certification is due for renewal on 2031-07-01.")
