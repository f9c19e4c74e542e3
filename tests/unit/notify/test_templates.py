"""Messages carry no PHI by construction: every template, fed a visit full of patient data, says none of it."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from services.contracts import Indication, PatientRef, Payer, Visit
from services.notify.domain.templates import (KINDS, SUBJECTS, MessageContext, case_link, offer_link, place, render,
                                              reply_code, visit_place)

pytestmark = pytest.mark.unit

NOW = datetime(2031, 5, 6, 3, 12, tzinfo=timezone.utc)  # arbitrary, far from today
PHI = ["Jane", "Doe", "MRN-778812", "778812", "1984", "female", "41", "T40.1X1A", "T401X1A", "F11", "opioid",
       "overdose", "heroin", "fentanyl", "naloxone", "alcohol", "withdrawal", "substance", "poisoning", "MEDICAID",
       "MEMBER-99812", "Pt", "Smith", "2106-3", "Hispanic"]


def phi_visit(location: str | None = "Pt Jane Doe heroin OD", bed: str | None = "Smith, 41F") -> Visit:
    """A visit whose every field is patient data, including free text where a location should be."""
    return Visit(
        facility="MERCY", visit_number="V1", arrived_at=NOW, location=location, bed=bed, language="es",
        gender="female", age_years=41, race=["2106-3"], ethnicity=["2135-2"], diagnoses=["T401X1A", "F1120"],
        indications=[Indication(kind="diagnosis", code="T401X1A", rule="opioid-poisoning",
                                category="opioid-poisoning", substance="opioids",
                                reason="heroin overdose, naloxone given; alcohol withdrawal")],
        peer_indicated=True, payer=Payer(plan_id="MEDICAID", member_id="MEMBER-99812"),
        patient_ref=PatientRef(system="urn:mrn", value="MRN-778812"), trigger="A04")


def contexts(visit: Visit):
    """Every context a message can be rendered from, built from the visit as the service builds it."""
    location, bed = visit_place(visit)
    assignment = str(uuid.uuid4())
    link = offer_link("http://127.0.0.1:8005", assignment)
    yield MessageContext(visit.facility, location, bed, NOW + timedelta(minutes=10), reply_code(assignment), link)
    yield MessageContext(visit.facility, location, bed)
    yield MessageContext(visit.facility)


@pytest.mark.parametrize("kind", KINDS)
# The location and bay are the feed's: free text there (a name, a reason) is refused as not a place code. A code that
# merely looks like a place cannot be told from one; that is why a message carries no other visit field at all.
@pytest.mark.parametrize("location,bed", [("Pt Jane Doe heroin OD", "Smith, 41F"), ("ED", "12"), (None, None),
                                          ("opioid overdose", "41 female"), ("Jane Doe", "MRN 778812")])
def test_no_template_says_anything_about_the_patient(kind, location, bed):
    for ctx in contexts(phi_visit(location, bed)):
        for repeat in (0, 2):
            text = render(kind, ctx, ZoneInfo("America/New_York"), repeat=repeat) + SUBJECTS.get(kind, "")
            text = text.replace(ctx.link or "~", "")
            leaked = [p for p in PHI if re.search(rf"(?<![A-Za-z0-9]){re.escape(p)}(?![A-Za-z0-9])", text, re.I)]
            assert not leaked, (kind, text)


def test_an_offer_says_where_until_when_how_to_answer_and_links_to_the_peer_app():
    assignment = "0b5e2c1a-7c1e-4c3e-9a55-1f7f3c1b2d3e"
    link = offer_link("http://console.example/", assignment)
    location, bed = visit_place(phi_visit("ED-EAST", "12A"))
    text = render("offer", MessageContext("MERCY", location, bed, NOW, reply_code(assignment), link),
                  ZoneInfo("America/New_York"))
    assert "MERCY, ED-EAST, bay 12A" in text
    assert "23:12 EDT" in text  # the expiry in the facility's time
    assert f"code {reply_code(assignment)}" in text and "Reply 1 to accept, 2 to decline" in text
    assert text.endswith("http://console.example/peer/offers/0b5e2c1a-7c1e-4c3e-9a55-1f7f3c1b2d3e")
    assert len(text) <= 320  # two SMS segments at most


def test_places_are_short_codes_and_anything_else_is_left_out():
    assert [place(v) for v in ("ED", "ED-POD-B", "12A", "3/4")] == ["ED", "ED-POD-B", "12A", "3/4"]
    assert [place(v) for v in ("Jane Doe", "bay 3, pt intoxicated", "", None, "x" * 17)] == [None] * 5


def test_reply_codes_are_four_digits_and_stable_per_offer():
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert re.fullmatch(r"[0-9]{4}", reply_code(a)) and reply_code(a) == reply_code(a)
    assert len({reply_code(str(uuid.uuid4())) for _ in range(200)}) > 150 and reply_code(b)


def test_a_reply_code_differs_from_the_peers_other_open_offers():
    a = str(uuid.uuid4())
    first = reply_code(a)
    again = reply_code(a, {first})
    assert again != first and re.fullmatch(r"[0-9]{4}", again)
    assert reply_code(a, {first, again}) not in {first, again}


def test_a_follow_up_reminder_says_a_call_is_due_until_when_and_links_to_the_case_only():
    link = case_link("http://console.example", "9d0f7e0a-1111-4c3e-9a55-1f7f3c1b2d3e")
    ctx = MessageContext("MERCY", expires_at=NOW, link=link)
    opened = render("followup-open", ctx, ZoneInfo("America/New_York"))
    closing = render("followup-closing", ctx, ZoneInfo("America/New_York"))
    assert opened == ("PeerBridge: a follow-up call is due for one of your cases, until Mon 05 May 23:12 EDT."
                      " http://console.example/peer/cases/9d0f7e0a-1111-4c3e-9a55-1f7f3c1b2d3e")
    assert "closes Mon 05 May 23:12 EDT" in closing and "not been reached" in closing and closing.endswith(link)
