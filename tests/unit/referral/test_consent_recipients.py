"""The consent's signature and named recipients, from ConsentRecorded to the FHIR Consent and to who may receive."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.contracts import ConsentRecorded
from services.referral.domain import fhir
from services.referral.domain.consent import for_facility
from services.referral.domain.disclosure import hold_reason, revocation, transaction
from services.referral.domain.lifecycle import transition

from .test_resources import NOW, VISIT_KEY, accepted, referral

pytestmark = pytest.mark.unit
MERCY = {"name": "Mercy Hospital", "system": "urn:peerbridge:facility", "value": "MERCY"}
HIE = {"name": "Garden State HIE", "system": "urn:oid:2.16.840.1.113883.3.9999", "value": "gshie"}
SHA1 = "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="


def signed(recipients=None, signer="patient", granted=True) -> ConsentRecorded:
    return ConsentRecorded(**VISIT_KEY, granted=granted, scope="42cfr2-referral", recorded_at=NOW,
                           consent_id="c0c0c0c0-0000-4000-8000-00000000000c", signed_at=NOW - timedelta(minutes=7),
                           signer=signer, signature_sha1=SHA1, signature_size=2048,
                           signature_url="https://pairing.example/consents/c0c0c0c0-0000-4000-8000-00000000000c/"
                                         "signature", recipients=recipients)


def test_the_signature_is_the_consents_source_with_when_and_by_whom_it_was_signed(assert_valid_fhir):
    consent = fhir.consent(transition(referral(), signed([MERCY])))
    attachment = consent["sourceAttachment"]
    assert attachment["contentType"] == "image/png" and attachment["hash"] == SHA1 and attachment["size"] == 2048
    assert attachment["url"].endswith("/consents/c0c0c0c0-0000-4000-8000-00000000000c/signature")
    assert "data" not in attachment                                   # the image never travels, only where it is
    assert consent["dateTime"] == fhir.instant(NOW - timedelta(minutes=7))   # signed, not recorded, at
    assert consent["performer"] == [consent["patient"]]
    assert "signed by the patient on" in consent["text"]["div"]
    assert_valid_fhir(consent)
    by_representative = fhir.consent(transition(referral(), signed([MERCY], signer="representative")))
    assert by_representative["performer"] == [{"type": "RelatedPerson",
                                               "display": "The patient's authorised representative"}]
    assert "authorised representative" in by_representative["text"]["div"]
    assert_valid_fhir(by_representative)


def test_named_recipients_are_the_consents_actors_and_only_a_named_facility_receives(assert_valid_fhir):
    both = transition(transition(referral(), signed([MERCY, HIE])), accepted())
    actors = [a["reference"] for a in fhir.consent(both)["provision"]["actor"]]
    assert [a["identifier"]["value"] for a in actors] == ["peer-recovery", "MERCY", "gshie"]
    assert actors[2]["display"] == "Garden State HIE"
    assert "Garden State HIE" in fhir.consent(both)["text"]["div"]
    assert hold_reason(both, NOW) is None
    assert_valid_fhir(transaction(both))
    # The patient named the HIE but not the hospital: whatever the scope says, the hospital receives nothing.
    hie_only = transition(transition(referral(), signed([HIE])), accepted())
    assert hold_reason(hie_only, NOW) == "consent-not-for-recipient"
    assert not for_facility(hie_only.consent, "MERCY")
    assert [a["reference"]["identifier"]["value"] for a in fhir.consent(hie_only)["provision"]["actor"]] == [
        "peer-recovery", "gshie"]
    # Another facility's code in the list covers that facility only.
    assert for_facility(transition(referral(), signed([{**MERCY, "value": "OTHER"}])).consent, "OTHER")
    assert not for_facility(transition(referral(), signed([])).consent, "MERCY")


def test_a_hospital_no_longer_named_is_told_its_consent_ended(assert_valid_fhir):
    named = transition(transition(referral(), signed([MERCY])), accepted())
    replaced = transition(named, signed([HIE]).model_copy(update={"recorded_at": NOW + timedelta(hours=1)}))
    assert hold_reason(replaced, NOW + timedelta(hours=1)) == "consent-not-for-recipient"
    [entry] = revocation(replaced)["entry"]
    assert entry["resource"]["status"] == "inactive" and entry["request"]["method"] == "PUT"
    assert "replaced by a consent that does not name this recipient" in entry["resource"]["text"]["div"]
    assert replaced.consent["status"] == "active"           # still in force for the HIE: only the copy says ended
    assert_valid_fhir(revocation(replaced))


def test_a_revocation_keeps_the_signature_and_recipients_of_the_consent_it_ends():
    granted = transition(referral(), signed([MERCY, HIE]))
    revoked = transition(granted, signed(granted=False))
    assert revoked.consent["status"] == "inactive"
    assert revoked.consent["recipients"] == granted.consent["recipients"]
    assert fhir.consent(revoked)["sourceAttachment"] == fhir.consent(granted)["sourceAttachment"]


def test_without_named_recipients_or_signature_the_consent_reads_as_before():
    plain = transition(referral(), ConsentRecorded(**VISIT_KEY, granted=True, recorded_at=NOW))
    consent = fhir.consent(plain)
    assert "sourceAttachment" not in consent and consent["dateTime"] == fhir.instant(NOW)
    assert [a["reference"]["identifier"]["value"] for a in consent["provision"]["actor"]] == ["peer-recovery", "MERCY"]
