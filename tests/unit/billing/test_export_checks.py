"""What is checked again when an approved claim goes into a file: the day, the units, the credential, the ED, F8."""
from datetime import timedelta

import pytest

from services.billing.domain.checks import export_holds
from services.billing.domain.claims import Usage, prepare, resolve
from services.billing.domain.facility import ServiceFacility

from .builders import FACILITY, NOW, build_encounter, build_visit

pytestmark = pytest.mark.unit


def holds(book, *, now=NOW, lines=None, frequency="1", facility=ServiceFacility(**FACILITY), payer_number=None,
          **encounter):
    visit, enc = build_visit(), build_encounter(**encounter)
    rs, _ = resolve(book, visit, enc)
    doc = prepare(rs, visit, enc, Usage(), NOW).document()
    if lines:
        doc["lines"] = [{**doc["lines"][0], **lines}]
    found = export_holds(rs=rs, document=doc, encounter=enc, frequency=frequency, facility_code="NEWARK",
                         facility=facility, payer_claim_number=payer_number, now=now)
    return [h.code for h in found]


def test_a_sound_claim_goes_out(book):
    assert holds(book) == []
    assert holds(book, frequency="7", payer_number="2026331000123") == []


def test_a_date_of_service_after_today_is_held(book):
    assert holds(book, now=NOW - timedelta(days=1)) == ["future-date-of-service"]


def test_units_beyond_what_the_minutes_support_are_held(book):
    # 50 minutes make 3 units under NJ's 8-minute rule; 4 would bill time that did not happen
    assert holds(book, lines={"units": 4}) == ["units-exceed-minutes"]
    assert holds(book, lines={"units": 3, "minutes": 38}) == []
    assert holds(book, lines={"units": 3, "minutes": 37}) == ["units-exceed-minutes"]


def test_a_credential_expired_before_the_date_of_service_is_held(book):
    expired = [{"kind": "CPRS", "state": "NJ", "expires_on": (NOW - timedelta(days=1)).date().isoformat()}]
    assert holds(book, credentials=expired) == ["peer-not-credentialed"]


def test_an_ed_billing_does_not_know_and_a_correction_without_the_payers_number_are_held(book):
    assert holds(book, facility=None) == ["no-service-facility"]
    assert holds(book, frequency="8") == ["no-payer-claim-number"]


def test_pricing_holds_an_encounter_dated_after_today(book):
    visit, enc = build_visit(), build_encounter()
    rs, _ = resolve(book, visit, enc)
    prepared = prepare(rs, visit, enc, Usage(), NOW - timedelta(days=2))
    assert [h.code for h in prepared.hold_reasons] == ["future-date-of-service"]


@pytest.mark.parametrize("bad", [{"npi": "1245319598"}, {"zip": "07112"}, {"state": "New Jersey"}, {"name": ""}])
def test_a_facility_needs_a_valid_npi_zip_plus_four_and_state(bad):
    with pytest.raises(ValueError):
        ServiceFacility(**{**FACILITY, **bad})
