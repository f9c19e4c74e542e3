"""The outcomes report as a FHIR R4 MeasureReport (summary): one group per measure, its populations and score."""
from __future__ import annotations

import uuid
from datetime import datetime

MEASURE = "urn:peerbridge:measure:ed-peer-program"
MEASURE_SYSTEM = "urn:peerbridge:measure-id"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
UCUM = "http://unitsofmeasure.org"
UNITS = {"%": "%", "min": "min", "h": "h"}


def _population(code: str, n) -> dict:
    return {"code": {"coding": [{"system": POPULATION, "code": code}]}, "count": int(n)}


def group(m: dict) -> dict:
    """A measure as a MeasureReport group: numerator and denominator populations (a count: the initial population),
    the score as a UCUM quantity when there is one."""
    found: dict = {"id": m["id"], "code": {"coding": [{"system": MEASURE_SYSTEM, "code": m["id"],
                                                       "display": m["label"]}], "text": m["definition"]}}
    if m["denominator"] is not None and m["unit"] == "%":
        found["population"] = [_population("numerator", round(m["numerator"])),
                               _population("denominator", round(m["denominator"]))]
    elif m["unit"] == "min":
        found["population"] = [_population("initial-population", m["denominator"] or 0)]
    else:
        found["population"] = [_population("initial-population", m["numerator"] or 0)]
    if m["value"] is not None and m["unit"] in UNITS:
        found["measureScore"] = {"value": m["value"], "unit": m["unit"], "system": UCUM, "code": UNITS[m["unit"]]}
    return found


def measure_report(body: dict, *, generated_at: datetime) -> dict:
    """The report's overall figures as a summary MeasureReport for the facility and period."""
    report = {"resourceType": "MeasureReport", "id": str(uuid.uuid4()), "status": "complete", "type": "summary",
              "measure": MEASURE, "date": generated_at.isoformat(),
              "period": {"start": body["from"], "end": body["to"]},
              "group": [group(m) for m in body["measures"]]}
    if body.get("facility"):
        report["reporter"] = {"identifier": {"system": "urn:peerbridge:facility", "value": body["facility"]},
                              "display": body["facility"]}
    return report
