"""The ED visit as intake announces it: one shape whatever channel (HL7, JSON, FHIR) brought it."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from .base import FacilityId, Instant, Shape, VisitNumber

Icd10 = Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9A-Z]{2,6}$")]
# A code of the CDC Race & Ethnicity code set (urn:oid:2.16.840.1.113883.6.238), e.g. 2106-3 White.
CdcRaceCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-[0-9]$")]


class Indication(Shape):
    """Why the visit needs a peer: a diagnosis, a chief-complaint keyword or a clinician's request."""

    # A peer-consult order (ORM/OMG) or the EHR's ServiceRequest is a clinician's request too; its rule id says
    # which (widening this enum would break readers during a rolling upgrade).
    kind: Literal["diagnosis", "keyword", "clinician-request"]
    code: str = Field(description="ICD-10-CM code without the dot, the matched keyword, or 'clinician-request'")
    rule: str | None = Field(None, description="Id of the program rule that matched")
    category: str | None = Field(None, description="opioid-poisoning, substance-use-disorder, ... (from the rule file)")
    substance: str | None = Field(None, description="opioids, alcohol, stimulants, cannabis, sedatives, "
                                                    "polysubstance, other")
    reason: str


class PatientRef(Shape):
    """The feed's patient identifier (for the FHIR referral's subject only)."""

    system: str
    value: str


class Payer(Shape):
    """The visit's insurance as the feed names it."""

    plan_id: str | None = Field(None, description="IN1-2")
    member_id: str | None = Field(None, description="IN1-36, else IN1-49")


class Visit(Shape):
    """An ED visit: who (as little as matching needs), when, why a peer, and who pays."""

    facility: FacilityId
    visit_number: VisitNumber
    arrived_at: Instant
    location: str | None = None
    bed: str | None = None
    language: str | None = Field(None, description="BCP-47")
    gender: Literal["male", "female", "other", "unknown"] | None = None
    age_years: int | None = Field(None, ge=0, le=150)
    race: list[CdcRaceCode] | None = Field(None, description="CDC Race & Ethnicity codes (OMB categories and "
                                           "detailed races) from PID-10 or the us-core-race extension")
    ethnicity: list[CdcRaceCode] | None = Field(None, description="CDC Race & Ethnicity codes (2135-2 Hispanic or "
                                                "Latino, 2186-5 Not Hispanic or Latino, detailed) from PID-22 or "
                                                "the us-core-ethnicity extension")
    diagnoses: list[Icd10] = Field(description="ICD-10-CM without dots")
    indications: list[Indication]
    peer_indicated: bool
    # None rather than False when there is no crisis: an ordinary visit reads on the wire exactly as before.
    crisis: bool | None = Field(None, description="True: intentional self-harm (T36-T50 intent 2, T14.91, R45.851) or "
                                                  "a configured crisis keyword; the crisis path applies")
    crisis_rules: list[str] | None = Field(None, description="Ids of the program rules that marked the crisis "
                                                             "(rule ids only, never the text that matched)")
    payer: Payer | None = None
    patient_ref: PatientRef | None = None
    trigger: str | None = Field(None, description="A04, A01, A08, FHIR, ...")
    message_id: str | None = Field(None, description="Intake's stored message id (lineage)")
