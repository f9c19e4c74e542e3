"""The 42 CFR 2.31 consent: its elements, its end (revoked or expired by the clock), its recipients (pure)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.contracts import ConsentRecorded
from services.referral.domain import fhir
from services.referral.domain.disclosure import hold_reason, revocation
from services.referral.domain.lifecycle import expire_consent, transition

from .test_resources import NOW, VISIT_KEY, accepted, consent_recorded, referral

pytestmark = pytest.mark.unit


def scoped(scope: str) -> ConsentRecorded:
    return ConsentRecorded(**VISIT_KEY, granted=True, recorded_at=NOW, scope=scope)


def test_the_consent_states_every_element_a_written_consent_needs():
    consent = fhir.consent(transition(referral(), consent_recorded(True, timedelta(days=90))))
    text = consent["text"]["div"]
    for element in ("Who discloses", "To whom", "Purpose", "What", "Expires", "Given", "Right to revoke"):
        assert f"<th>{element}</th>" in text
    assert consent["organization"][0]["identifier"]["value"] == "peer-recovery"          # who discloses
    assert [a["reference"]["identifier"]["value"] for a in consent["provision"]["actor"]] == [
        "peer-recovery", "MERCY"]                                                           # to whom
    assert consent["provision"]["purpose"][0]["code"] == "TREAT"
    assert {c["code"] for c in consent["provision"]["class"]} == {"ServiceRequest", "Task", "Consent"}
    assert consent["provision"]["period"]["end"].startswith((NOW + timedelta(days=90)).date().isoformat())
    assert consent["dateTime"].startswith(NOW.date().isoformat()) and consent["performer"] == [consent["patient"]]


def test_a_consent_without_an_expiry_ends_a_year_after_it_was_given():
    consent = fhir.consent(transition(referral(), consent_recorded(True)))
    assert consent["provision"]["period"]["end"].startswith((NOW + timedelta(days=365)).date().isoformat())


def test_expiry_ends_the_consent_by_the_clock_and_a_revocation_keeps_what_it_revoked():
    granted = transition(referral(), consent_recorded(True, timedelta(days=30)))
    assert expire_consent(granted, NOW + timedelta(days=29)) == granted
    expired = expire_consent(granted, NOW + timedelta(days=31))
    assert expired.consent["status"] == "inactive" and hold_reason(expired, NOW + timedelta(days=31)) == \
        "consent-expired"
    assert "expired" in fhir.consent(expired)["text"]["div"]
    revoked = transition(granted, consent_recorded(False))
    assert revoked.consent["expires_at"] == granted.consent["expires_at"]
    assert "revoked by the patient" in fhir.consent(revoked)["text"]["div"]
    bundle = revocation(revoked)
    [entry] = bundle["entry"]
    assert entry["resource"]["status"] == "inactive" and entry["request"]["method"] == "PUT"


def test_a_consent_to_the_program_only_names_no_facility_and_holds_the_push():
    ref = transition(transition(referral(), scoped("peer-program-only")), accepted())
    assert hold_reason(ref, NOW) == "consent-not-for-recipient"
    actors = fhir.consent(ref)["provision"]["actor"]
    assert [a["reference"]["identifier"]["value"] for a in actors] == ["peer-recovery"]
    assert hold_reason(transition(referral(), scoped("hospital-care-team")), NOW) is None


def test_every_consent_state_passes_hl7s_validator(assert_valid_fhir):
    granted = transition(referral(), consent_recorded(True, timedelta(days=30)))
    for ref in (granted, expire_consent(granted, NOW + timedelta(days=31)),
                transition(granted, consent_recorded(False)), transition(referral(), scoped("peer-program-only"))):
        assert_valid_fhir(fhir.consent(ref))
    assert_valid_fhir(revocation(transition(granted, consent_recorded(False))))
