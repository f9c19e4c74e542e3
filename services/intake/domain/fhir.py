"""FHIR R4 Encounter (with its Patient and Conditions) to the visit intake keeps; pure, no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from services.contracts import Indication, PatientRef, Visit

from .adt import age_in_years
from .indications import normalise_icd10
from .language import to_bcp47
from .race import US_CORE_ETHNICITY, US_CORE_RACE, from_us_core
from .subscriber import from_patient

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
OPEN = {"planned", "arrived", "triaged", "in-progress", "onleave"}
CLOSED = {"finished"}
CANCELLED = {"cancelled", "entered-in-error"}


class FhirInputError(Exception):
    """Input that cannot become a visit; path is a FHIRPath-like location, reason plain text without PHI."""

    def __init__(self, path: str, reason: str, code: str = "invalid"):
        super().__init__(reason)
        self.path = path
        self.reason = reason
        self.code = code


@dataclass
class FhirVisit:
    """A visit read from FHIR, and what its Encounter status asks for."""

    visit: Visit
    status: str
    ended_at: datetime | None = None
    complaints: list[str] = field(default_factory=list)
    subscriber: dict | None = None  # the Patient's demographics for billing; kept in intake, never in events
    request: Indication | None = None  # a ServiceRequest for a peer consult that came with the Encounter


def _instant(value, path: str) -> datetime:
    """A FHIR date or dateTime as a UTC instant (a date: its first moment)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time(), timezone.utc)
    # FHIR allows "2026" and "2026-12"; neither says on which day the patient came or left (see the README).
    raise FhirInputError(path, "a year or a year and month is not precise enough: the day at least is required")


def _period(period) -> tuple[datetime, datetime | None]:
    """The Encounter's start and end; an end before the start is refused (a date-only end lasts its whole day)."""
    if period is None or period.start is None:
        raise FhirInputError("Encounter.period.start", "the arrival time is required", "required")
    start = _instant(period.start, "Encounter.period.start")
    if period.end is None:
        return start, None
    end = _instant(period.end, "Encounter.period.end")
    if (end + timedelta(days=1) <= start) if type(period.end) is date else (end < start):
        raise FhirInputError("Encounter.period.end", "the period ends before it starts")
    return start, end


def _icd10(codeable) -> list[str]:
    codes = []
    for coding in (codeable.coding or []) if codeable else []:
        code = normalise_icd10(coding.code or "") if coding.system == ICD10CM else None
        if code:
            codes.append(code)
    return codes


def _patient_fields(patient) -> dict:
    if patient is None:
        return {}
    out: dict = {"gender": patient.gender if patient.gender in ("male", "female", "other", "unknown") else None}
    for comm in patient.communication or []:
        tag = next((to_bcp47(c.code) for c in (comm.language.coding or []) if c.code), None)
        if tag and (comm.preferred or "language" not in out):
            out["language"] = tag
    ident = next((i for i in patient.identifier or [] if i.value), None)
    if ident:
        out["patient_ref"] = PatientRef(system=ident.system or "urn:peerbridge:unknown", value=ident.value)
    if isinstance(patient.birthDate, date):
        out["birth_date"] = patient.birthDate
    out["race"] = from_us_core(patient, US_CORE_RACE) or None
    out["ethnicity"] = from_us_core(patient, US_CORE_ETHNICITY) or None
    return out


def encounter_visit(encounter, patient=None, conditions=()) -> FhirVisit:
    """The visit an emergency Encounter describes; FhirInputError names the element at fault."""
    klass = encounter.class_fhir
    if klass is None or klass.code != "EMER":
        raise FhirInputError("Encounter.class", "only emergency encounters (class EMER) are taken", "not-supported")
    if encounter.status not in OPEN | CLOSED | CANCELLED:
        raise FhirInputError("Encounter.status", "status is missing or not an Encounter status", "required")
    ident = next((i for i in encounter.identifier or [] if i.value), None)
    if ident is None:
        raise FhirInputError("Encounter.identifier", "the visit number (Encounter.identifier.value) is required",
                             "required")
    provider = encounter.serviceProvider
    facility = (provider.identifier.value if provider and provider.identifier else None) or (
        ident.assigner.identifier.value if ident.assigner and ident.assigner.identifier else None)
    if not facility:
        raise FhirInputError("Encounter.serviceProvider.identifier", "the facility identifier is required", "required")
    if len(facility) > 64 or len(ident.value) > 64:
        raise FhirInputError("Encounter.identifier", "facility and visit number are at most 64 characters")
    arrived, ended = _period(encounter.period)
    diagnoses = [c for r in encounter.reasonCode or [] for c in _icd10(r)]
    diagnoses += [c for cond in conditions for c in _icd10(cond.code)]
    person = _patient_fields(patient)
    born = person.pop("birth_date", None)
    location = next((loc.location.display for loc in encounter.location or [] if loc.location), None)
    visit = Visit(facility=facility, visit_number=ident.value, arrived_at=arrived, location=location,
                  language=person.get("language"), gender=person.get("gender"),
                  age_years=age_in_years(born, arrived.date()) if born else None,
                  race=person.get("race"), ethnicity=person.get("ethnicity"),
                  diagnoses=list(dict.fromkeys(diagnoses)), indications=[], peer_indicated=False,
                  patient_ref=person.get("patient_ref"), trigger="FHIR")
    complaints = [r.text for r in encounter.reasonCode or [] if r.text]
    complaints += [c.display for r in encounter.reasonCode or [] for c in r.coding or [] if c.display]
    status = "open" if encounter.status in OPEN else "closed" if encounter.status in CLOSED else "cancelled"
    return FhirVisit(visit, status, ended, complaints,
                     from_patient(patient) if patient is not None else None)


# Read beside the Encounter by fhir_requests: who pays, a peer consult asked for, the payor.
SIDE_RESOURCES = {"Coverage", "ServiceRequest", "Organization"}


def bundle_parts(bundle) -> tuple[list, dict, list]:
    """The Encounters, Patients (by fullUrl and by type/id) and Conditions of a transaction or batch Bundle."""
    if bundle.type not in ("transaction", "batch"):
        raise FhirInputError("Bundle.type", "only transaction and batch Bundles are taken", "not-supported")
    encounters, patients, conditions = [], {}, []
    for n, entry in enumerate(bundle.entry or []):
        resource = entry.resource
        kind = type(resource).__name__ if resource is not None else None
        if kind == "Encounter":
            encounters.append(resource)
        elif kind == "Patient":
            for key in (entry.fullUrl, f"Patient/{resource.id}" if resource.id else None):
                if key:
                    patients[key] = resource
        elif kind == "Condition":
            conditions.append(resource)
        elif kind is not None and kind not in SIDE_RESOURCES:
            raise FhirInputError(f"Bundle.entry[{n}].resource", "only Patient, Encounter, Condition, Coverage, "
                                 "Organization and ServiceRequest are taken", "not-supported")
    asks = any(type(e.resource).__name__ == "ServiceRequest" for e in bundle.entry or [])
    if not encounters and not asks:
        raise FhirInputError("Bundle.entry", "the Bundle holds no Encounter (or ServiceRequest)", "required")
    return encounters, patients, conditions


def conditions_of(encounter, encounter_url: str | None, conditions: list) -> list:
    """The Conditions that point at this Encounter (or all of them when none points anywhere)."""
    keys = {k for k in (encounter_url, f"Encounter/{encounter.id}" if encounter.id else None) if k}
    linked = [c for c in conditions if c.encounter and c.encounter.reference in keys]
    unlinked = [c for c in conditions if not c.encounter]
    return linked + unlinked
