"""FHIR resources beside the Encounter: a Coverage (who pays) and a ServiceRequest for a peer consult; pure, no I/O."""
from __future__ import annotations

from dataclasses import dataclass

from services.contracts import Indication, Payer

from .fhir import FhirInputError, FhirVisit, bundle_parts, conditions_of, encounter_visit
from .indications import indication
from .rules import Rules, ServiceRequestRule

PLAN_CLASS = "plan"
MEMBER_NUMBER = "MB"  # v2-0203 identifier type: member number
# Intents that ask for the work to be done (proposal, plan, directive and option do not).
ORDER_INTENTS = {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
STATUSES = {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"}
INTENTS = ORDER_INTENTS | {"proposal", "plan", "directive", "option"}


def _codes(codeable) -> set[str]:
    return {c.code for c in (codeable.coding or []) if c.code} if codeable else set()


def _identifier_value(reference, organizations: dict) -> str | None:
    """The identifier of a payor Reference: its own logical identifier, else the referenced Organization's."""
    if reference is None:
        return None
    if reference.identifier is not None and reference.identifier.value:
        return reference.identifier.value
    org = organizations.get(reference.reference or "")
    return next((i.value for i in org.identifier or [] if i.value), None) if org is not None else None


def payer_of(coverage, organizations: dict) -> Payer | None:
    """The visit's payer from an active Coverage (plan class, else payor id; MB identifier, else subscriberId)."""
    if coverage.status != "active":
        return None
    plan = next((c.value for c in coverage.class_fhir or [] if PLAN_CLASS in _codes(c.type) and c.value), None)
    plan = plan or next(filter(None, (_identifier_value(p, organizations) for p in coverage.payor or [])), None)
    member = next((i.value for i in coverage.identifier or [] if i.value and MEMBER_NUMBER in _codes(i.type)), None)
    member = member or coverage.subscriberId
    if not plan and not member:
        return None
    if len(plan or "") > 64 or len(member or "") > 64:
        raise FhirInputError("Coverage", "plan and member identifiers are at most 64 characters")
    return Payer(plan_id=plan or None, member_id=member or None)


def coverage_for(subject: str | None, patient_keys: set[str], coverages: list) -> object | None:
    """The active Coverage of the Encounter's patient (by beneficiary, or the Bundle's only one), lowest order first."""
    keys = {k for k in (subject, *patient_keys) if k}
    mine = [c for c in coverages if c.beneficiary and c.beneficiary.reference in keys]
    if not mine and len(coverages) == 1:
        mine = coverages
    active = [c for c in mine if c.status == "active"]
    return min(active, key=lambda c: c.order or 0) if active else None


@dataclass(frozen=True)
class PeerRequest:
    """What a ServiceRequest asks: a peer for a visit, by the Encounter it points at or the visit's identifier."""

    indication: Indication | None          # None: not active, not an order, or not to be done (nothing to do)
    encounter_ref: str | None
    facility: str | None
    visit_number: str | None


def _rule(sr, rules: Rules) -> ServiceRequestRule | None:
    for coding in (sr.code.coding or []) if sr.code else []:
        for rule in rules.service_requests:
            if coding.code in rule.codes and (rule.system is None or coding.system == rule.system):
                return rule
    return None


def peer_request(sr, rules: Rules, path: str = "ServiceRequest") -> PeerRequest:
    """The peer consult a ServiceRequest asks for; FhirInputError when its code is none this program takes."""
    if sr.status not in STATUSES:
        raise FhirInputError(f"{path}.status", "status is not a request status", "invalid")
    if sr.intent not in INTENTS:
        raise FhirInputError(f"{path}.intent", "intent is not a request intent", "invalid")
    rule = _rule(sr, rules)
    if rule is None:
        raise FhirInputError(f"{path}.code", "not a peer consult this program takes", "not-supported")
    acts = sr.status == "active" and sr.intent in ORDER_INTENTS and not sr.doNotPerform
    found = indication("clinician-request", "clinician-request", rule.id, None, None, rule.reason) if acts else None
    ref = sr.encounter
    ident = ref.identifier if ref is not None else None
    assigner = ident.assigner.identifier if ident is not None and ident.assigner and ident.assigner.identifier \
        else None
    return PeerRequest(found, ref.reference if ref is not None else None,
                       assigner.value if assigner is not None else None, ident.value if ident is not None else None)


def by_identifier(request: PeerRequest, path: str = "ServiceRequest") -> tuple[str, str]:
    """The visit a ServiceRequest names by the Encounter's identifier and its assigner (the facility)."""
    if not request.visit_number:
        raise FhirInputError(f"{path}.encounter", "the Encounter is neither in the Bundle nor named by its identifier "
                                                  "and assigner", "required")
    if not request.facility:
        raise FhirInputError(f"{path}.encounter.identifier.assigner", "the facility identifier is required",
                             "required")
    if len(request.facility) > 64 or len(request.visit_number) > 64:
        raise FhirInputError(f"{path}.encounter.identifier", "facility and visit number are at most 64 characters")
    return request.facility, request.visit_number


Request = tuple[str, str, Indication, str]  # facility, visit number, the request, where it was in the input


def _keys(resource, url: str | None, kind: str) -> list[str]:
    return [k for k in (url, f"{kind}/{resource.id}" if resource.id else None) if k]


def read_bundle(bundle, rules: Rules) -> tuple[list[FhirVisit], list[Request]]:
    """A Bundle's visits (with payer and peer consult) and its requests for visits named only by identifier."""
    encounters, patients, conditions = bundle_parts(bundle)
    urls = {id(e.resource): e.fullUrl for e in bundle.entry or []}
    coverages, requests, organizations = [], [], {}
    for n, entry in enumerate(bundle.entry or []):
        kind = type(entry.resource).__name__ if entry.resource is not None else None
        if kind == "Coverage":
            coverages.append(entry.resource)
        elif kind == "ServiceRequest":
            requests.append((n, entry.resource))
        elif kind == "Organization":
            organizations.update(dict.fromkeys(_keys(entry.resource, entry.fullUrl, kind), entry.resource))
    found, by_ref = [], {}
    for enc in encounters:
        ref = enc.subject.reference if enc.subject else None
        patient = patients.get(ref) or (next(iter(patients.values())) if len(set(map(id, patients.values()))) == 1
                                        else None)
        fv = encounter_visit(enc, patient, conditions_of(enc, urls.get(id(enc)), conditions))
        coverage = coverage_for(ref, {k for k, p in patients.items() if p is patient}, coverages)
        payer = payer_of(coverage, organizations) if coverage is not None else None
        if payer is not None:
            fv.visit = fv.visit.model_copy(update={"payer": payer})
        found.append(fv)
        by_ref.update(dict.fromkeys(_keys(enc, urls.get(id(enc)), "Encounter"), fv))
    loose: list[Request] = []
    for n, sr in requests:
        path = f"Bundle.entry[{n}].resource"
        req = peer_request(sr, rules, path)
        target = by_ref.get(req.encounter_ref or "")
        if target is None and not req.encounter_ref and not req.visit_number and len(found) == 1:
            target = found[0]
        if target is not None:
            target.request = target.request or req.indication
        elif req.indication is not None:
            loose.append((*by_identifier(req, path), req.indication, f"{path}.encounter"))
    return found, loose
