"""Peer consults ordered in the EHR: HL7 ORM^O01 / OMG^O19 and FHIR ServiceRequest, and the Coverage that pays."""
from __future__ import annotations

import dataclasses
from datetime import timezone

import pytest
import yaml
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest

from services.intake.domain.adt import AdtVisit, header
from services.intake.domain.fhir import FhirInputError
from services.intake.domain.fhir_requests import by_identifier, peer_request, read_bundle
from services.intake.domain.hl7 import parse
from services.intake.domain.hl7_plan import check_header, plan_adt
from services.intake.domain.indications import parse_rules
from services.intake.feeds import feed_config
from services.intake.settings import RULES_DIR, IntakeSettings
from tests.unit.intake.fhir_samples import bundle, coverage, service_request
from tests.unit.intake.messages import RECEIVED, order

pytestmark = pytest.mark.unit
CONFIG = feed_config(IntakeSettings())
NOW = RECEIVED.astimezone(timezone.utc)


def with_orders(orders: list[dict]):
    doc = yaml.safe_load((RULES_DIR / "default.yaml").read_text())
    doc["orders"] = orders
    return dataclasses.replace(CONFIG, rules=parse_rules(doc, "program.yaml"))


def plan(raw: bytes, config=CONFIG):
    msg = parse(raw)
    hdr = header(msg)
    return check_header(hdr, config) or plan_adt(msg, hdr, config, NOW)


@pytest.mark.parametrize("raw", [order("ORM"), order("OMG"), order("ORM", alternate=True),
                                 order("OMG", version="2.8"), order("ORM", code="peerconsult")])
def test_a_new_peer_consult_order_asks_for_a_peer_for_its_visit(raw):
    planned = plan(raw)
    assert isinstance(planned[0], AdtVisit) and planned[1] == "V1001"
    request = planned[0].request
    assert (request.kind, request.code, request.rule) == ("clinician-request", "clinician-request",
                                                          "peer-consult-order")


@pytest.mark.parametrize("raw, reason", [
    (order("ORM", control="CA"), "not a new peer consult order"),   # cancelled: an indication once made stays
    (order("OMG", control="XO"), "not a new peer consult order"),
    (order("ORM", code="CBC"), "not a new peer consult order"),
    (order("ORM", code_field="ORC-16"), "not a new peer consult order"),  # the default file reads OBR-4 only
])
def test_other_orders_are_acknowledged_and_ignored(raw, reason):
    planned = plan(raw)
    assert (planned.code, planned.status, planned.reason) == ("AA", "ignored", reason)


def test_a_program_names_the_field_and_code_of_its_orderable_and_can_switch_the_rule_off():
    orc = with_orders([{"id": "peer-order-orc", "fields": ["ORC-16"], "codes": ["PRS01"], "reason": "peer consult"}])
    assert plan(order("ORM", code="PRS01", code_field="ORC-16"), orc)[0].request.rule == "peer-order-orc"
    assert plan(order("ORM", code="PEERCONSULT"), orc).status == "ignored"
    off = with_orders([{"id": "peer-consult-order", "enabled": False, "codes": ["PEERCONSULT"], "reason": "r"}])
    assert plan(order("OMG"), off).status == "ignored"


def test_a_peer_consult_order_without_a_visit_number_is_an_application_error_naming_pv1_19():
    planned = plan(order("ORM", visit_number=None))
    assert (planned.code, planned.error_code, planned.location) == ("AE", "101", "PV1^1^19")


RULES = CONFIG.rules


def test_an_active_service_request_names_its_visit_by_the_encounters_identifier():
    asked = peer_request(ServiceRequest.model_validate(service_request("GENHOSP", "V9")), RULES)
    assert asked.indication.rule == "peer-consult-service-request" and by_identifier(asked) == ("GENHOSP", "V9")


@pytest.mark.parametrize("change", [{"status": "revoked"}, {"status": "completed"}, {"intent": "proposal"},
                                    {"doNotPerform": True}])
def test_a_service_request_that_is_no_active_order_asks_for_nothing(change):
    asked = peer_request(ServiceRequest.model_validate({**service_request("GENHOSP", "V9"), **change}), RULES)
    assert asked.indication is None


@pytest.mark.parametrize("body, path", [
    (service_request(code="LAB123"), "ServiceRequest.code"),
    ({**service_request(), "status": "flying"}, "ServiceRequest.status"),
    ({**service_request(), "intent": "wish"}, "ServiceRequest.intent"),
    (service_request(system="http://loinc.org", code="PEERCONSULT", facility=None), None),
    ({**service_request(), "encounter": {"reference": "Encounter/123"}}, "ServiceRequest.encounter"),
    (service_request(facility=None), "ServiceRequest.encounter.identifier.assigner"),
])
def test_a_service_request_that_cannot_be_placed_names_the_element(body, path):
    with pytest.raises(FhirInputError) as info:
        by_identifier(peer_request(ServiceRequest.model_validate(body), RULES))
    assert info.value.path == (path or "ServiceRequest.encounter.identifier.assigner")


def test_a_bundle_with_a_coverage_gives_the_visit_its_payer():
    [fv], loose = read_bundle(Bundle.model_validate(bundle("F", "V", extra=[coverage()])), RULES)
    assert fv.visit.payer.model_dump() == {"plan_id": "NJMCD", "member_id": "MEM-FHIR-77"} and loose == []


@pytest.mark.parametrize("cov, payer", [
    (coverage(plan=None), {"plan_id": "PAYER-9", "member_id": "MEM-FHIR-77"}),        # the payor's identifier
    (coverage(member_type=None), {"plan_id": "NJMCD", "member_id": "SUB-1"}),           # subscriberId
    (coverage(status="cancelled"), None),
    (coverage(beneficiary="urn:uuid:someone-else", status="active"), None),
])
def test_the_payer_comes_from_the_plan_class_and_member_number(cov, payer):
    others = [cov] if "someone-else" not in str(cov) else [cov, coverage(beneficiary="urn:uuid:other-2")]
    [fv], _ = read_bundle(Bundle.model_validate(bundle("F", "V", extra=others)), RULES)
    assert (fv.visit.payer.model_dump() if fv.visit.payer else None) == payer


def test_a_bundle_with_a_service_request_for_its_encounter_asks_for_a_peer():
    sr = {**service_request(), "encounter": {"reference": "urn:uuid:enc-1"}}
    [fv], loose = read_bundle(Bundle.model_validate(bundle("F", "V", extra=[sr])), RULES)
    assert fv.request.rule == "peer-consult-service-request" and loose == []


def test_a_bundle_of_service_requests_alone_names_visits_by_identifier():
    doc = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:sr-1", "resource": service_request("GENHOSP", "V5"),
         "request": {"method": "POST", "url": "ServiceRequest"}}]}
    found, loose = read_bundle(Bundle.model_validate(doc), RULES)
    assert found == [] and [(f, v, i.rule, where) for f, v, i, where in loose] == [
        ("GENHOSP", "V5", "peer-consult-service-request", "Bundle.entry[0].resource.encounter")]
