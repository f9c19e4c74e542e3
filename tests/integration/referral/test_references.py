"""What the hospital receives resolves there: the peer's PractitionerRole by NPI, no dangling literal reference,
and the ServiceRequest's status kept in step (completed, revoked)."""
from __future__ import annotations

import json
import random
import uuid

import httpx
import pytest

from services.runtime import topics
from tests.support.fixtures import wait_for

from .conftest import Recording, at, visit

pytestmark = pytest.mark.integration


def references(value) -> list[str]:
    """Every literal `reference` anywhere in a resource."""
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


def resolvable(hapi, resource: dict) -> None:
    """Every literal reference of a resource at the hospital reads back 200 from the hospital's own server."""
    for ref in references(resource):
        assert not ref.startswith("urn:"), ref
        assert httpx.get(f"{hapi.url}/{ref}", headers=hapi.headers).status_code == 200, ref


def one(hapi, rtype: str, identifier: str) -> dict:
    [found] = hapi.find(rtype, identifier)
    return found


async def _task(hapi, identifier: str, status: str, business: str | None = None) -> bool:
    for t in hapi.find("Task", identifier):
        if t["status"] == status and business in (None, t["businessStatus"]["coding"][0]["code"]):
            return True
    return False


async def test_the_hospital_can_resolve_everything_pushed_and_sees_the_service_request_completed(
        referral_app, hapi, assert_valid_fhir):
    facility = f"R{uuid.uuid4().hex[:6].upper()}"
    numbers = ["V" + uuid.uuid4().hex[:8] for _ in range(2)]
    npi = "".join(random.choices("0123456789", k=10))
    specialist = str(uuid.uuid4())
    wire = Recording()
    async with referral_app({facility: hapi.url}, push_transport=wire) as svc:
        for number in numbers:
            a = {"facility": facility, "visit_number": number, "assignment_id": str(uuid.uuid4()),
                 "specialist_id": specialist}
            await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
            await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
                "facility": facility, "visit_number": number, "granted": True, "recorded_at": at(30)})
            await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerAssignmentAccepted", {
                **a, "accepted_at": at(31), "specialist_npi": npi, "specialist_name": "Robin Peer"})
            await svc.publish(topics.PAIRING_ASSIGNMENT, "PeerEncounterCompleted", {
                **{k: a[k] for k in ("facility", "visit_number", "assignment_id", "specialist_id")},
                "encounter_id": str(uuid.uuid4()), "specialist_npi": npi, "started_at": at(40),
                "ended_at": at(70), "modality": "in-person", "kind": "individual"})
        first = f"urn:peerbridge:ed-visit|{facility}:{numbers[0]}"
        second = f"urn:peerbridge:ed-visit|{facility}:{numbers[1]}"
        for identifier in (first, second):
            await wait_for(lambda i=identifier: _task(hapi, i, "in-progress", "follow-up"), timeout=60)
        await svc.publish(topics.PAIRING_ASSIGNMENT, "CaseClosed", {
            "facility": facility, "visit_number": numbers[0], "case_id": str(uuid.uuid4()),
            "closed_at": at(90), "reason": "engaged"})
        await wait_for(lambda: _task(hapi, first, "completed"), timeout=60)

        assert one(hapi, "ServiceRequest", first)["status"] == "completed"
        assert one(hapi, "ServiceRequest", second)["status"] == "active"
        task = one(hapi, "Task", first)
        role = httpx.get(f"{hapi.url}/{task['owner']['reference']}", headers=hapi.headers).json()
        assert role["resourceType"] == "PractitionerRole"
        assert role["identifier"] == [{"system": "http://hl7.org/fhir/sid/us-npi", "value": npi}]
        assert role["practitioner"]["display"] == "Robin Peer"
        # one PractitionerRole per NPI, however many referrals the peer owns
        assert one(hapi, "Task", second)["owner"]["reference"].split("/_history")[0] == \
            task["owner"]["reference"].split("/_history")[0]
        assert len(hapi.find("PractitionerRole", f"http://hl7.org/fhir/sid/us-npi|{npi}")) == 1
        # the peer's encounter is ours, not the hospital's: a logical reference by identifier, never a literal one
        output = task["output"][0]["valueReference"]
        assert "reference" not in output and output["identifier"]["system"] == "urn:peerbridge:peer-encounter"
        for identifier in (first, second):
            for rtype in ("ServiceRequest", "Task", "Consent"):
                resolvable(hapi, one(hapi, rtype, identifier))
        pushed = [b for b in wire.sent if facility in json.dumps(b)]
        assert any(e["resource"]["resourceType"] == "PractitionerRole" for b in pushed for e in b["entry"])
        for bundle in pushed:
            assert_valid_fhir(bundle)


async def test_a_cancelled_visit_revokes_the_service_request_at_the_hospital(referral_app, hapi):
    facility, number = f"X{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    identifier = f"urn:peerbridge:ed-visit|{facility}:{number}"
    async with referral_app({facility: hapi.url}) as svc:
        await svc.publish(topics.INTAKE_VISIT, "PeerSupportIndicated", visit(facility, number))
        await svc.publish(topics.PAIRING_ASSIGNMENT, "ConsentRecorded", {
            "facility": facility, "visit_number": number, "granted": True, "recorded_at": at(30)})
        await wait_for(lambda: _task(hapi, identifier, "requested"), timeout=60)
        # the Task, with no owner yet, names no PractitionerRole at all
        assert "owner" not in one(hapi, "Task", identifier)
        await svc.publish(topics.INTAKE_VISIT, "EdVisitCancelled", {
            "facility": facility, "visit_number": number, "cancelled_at": at(35), "reason": "cancelled"})
        await wait_for(lambda: _task(hapi, identifier, "cancelled"), timeout=60)
        assert one(hapi, "ServiceRequest", identifier)["status"] == "revoked"
