"""What intake decides about an HL7 message before touching the database: refuse, ignore, or the visit it changes."""
from __future__ import annotations

from datetime import timezone

from services.intake.domain.adt import AdtVisit, header
from services.intake.domain.hl7 import parse
from services.intake.domain.hl7_plan import check_header, dedupe_key, plan_adt
from services.intake.feeds import feed_config
from services.intake.settings import IntakeSettings
from tests.unit.intake.messages import RECEIVED, adt

CONFIG = feed_config(IntakeSettings())
NOW = RECEIVED.astimezone(timezone.utc)


def plan(raw: bytes):
    msg = parse(raw)
    hdr = header(msg)
    return check_header(hdr, CONFIG) or plan_adt(msg, hdr, CONFIG, NOW)


def test_an_ed_registration_changes_its_own_visit():
    planned = plan(adt("A04", visit_number="V77"))
    assert isinstance(planned[0], AdtVisit) and planned[1] == "V77"


def test_a_merge_changes_the_visit_it_absorbs():
    planned = plan(adt("A40", visit_number="V-SURVIVOR", extra=("MRG|OLD-MRN||||V-MERGED",)))
    assert planned[1] == "V-MERGED"


def test_a_merge_without_a_prior_visit_is_ignored_and_acknowledged():
    planned = plan(adt("A40", visit_number="V-SURVIVOR"))
    assert (planned.code, planned.status, planned.reason) == ("AA", "ignored", "patient merge without a visit")


def test_an_ed_visit_without_its_number_is_an_application_error_naming_pv1_19():
    planned = plan(adt("A04", visit_number=None))
    assert (planned.code, planned.error_code, planned.location) == ("AE", "101", "PV1^1^19")


def test_an_inpatient_message_without_a_visit_number_is_ignored():
    planned = plan(adt("A04", visit_number=None, patient_class="I", location="4WEST"))
    assert (planned.code, planned.reason) == ("AA", "not an ED visit")


def test_a_message_type_intake_does_not_use_is_ignored():
    planned = plan(adt("A31"))
    assert (planned.code, planned.reason) == ("AA", "message type not used")


def test_an_unsupported_version_is_rejected_before_anything_is_read():
    planned = plan(adt("A04", version="2.2"))
    assert (planned.code, planned.error_code, planned.location) == ("AR", "203", "MSH^1^12")


def test_a_resend_is_recognised_by_sender_control_id_and_bytes_together():
    raw = adt("A04", control_id="C-1")
    hdr = header(parse(raw))
    assert dedupe_key(hdr, raw) == dedupe_key(hdr, bytes(raw))
    assert dedupe_key(hdr, raw) != dedupe_key(hdr, raw.replace(b"T40.1X1A", b"T40.2X1A"))
