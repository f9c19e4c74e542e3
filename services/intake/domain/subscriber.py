"""The subscriber's demographics (X12 837P loop 2010BA) from a PID segment, a FHIR Patient or the JSON body; pure."""
from __future__ import annotations

import re
from datetime import date

from .hl7 import Message

GENDERS = ("male", "female", "other", "unknown")
_HL7_GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})", re.ASCII)
ADDRESS_KEYS = ("line1", "line2", "city", "state", "postal_code")


def subscriber(last: str | None = None, first: str | None = None, middle: str | None = None,
               birth_date: date | None = None, gender: str | None = None, address: dict | None = None) -> dict:
    """The response shape: empty strings become null, gender falls back to unknown."""
    address = address or {}
    return {"last_name": last or None, "first_name": first or None, "middle_name": middle or None,
            "birth_date": birth_date.isoformat() if birth_date else None,
            "gender": gender if gender in GENDERS else "unknown",
            "address": {k: address.get(k) or None for k in ADDRESS_KEYS}}


def _hl7_date(value: str) -> date | None:
    """A full birth date from an HL7 DT/TS; a partial one (year or month only) cannot go on a claim."""
    m = _DATE.match(value.strip())
    if not m:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _repetition(msg: Message, seg, field_no: int, type_component: int, preferred: tuple[str, ...]) -> int:
    """The first repetition whose type code is preferred, else the first one."""
    count = len(seg.fields[field_no].split(msg.encoding.repetition)) if field_no < len(seg.fields) else 0
    for rep in range(1, count + 1):
        if msg.value(seg, field_no, type_component, rep).upper() in preferred:
            return rep
    return 1


def from_pid(msg: Message) -> dict | None:
    """PID-5 (legal name first), PID-7, PID-8, PID-11 (home or mailing address first); None without a PID."""
    pid = msg.first("PID")
    if pid is None:
        return None
    name = _repetition(msg, pid, 5, 7, ("L",))
    addr = _repetition(msg, pid, 11, 7, ("H", "M"))
    address = {key: msg.value(pid, 11, n, addr) for n, key in enumerate(ADDRESS_KEYS[:4], start=1)}
    address["postal_code"] = msg.value(pid, 11, 5, addr)
    return subscriber(msg.value(pid, 5, 1, name), msg.value(pid, 5, 2, name), msg.value(pid, 5, 3, name),
                      _hl7_date(msg.value(pid, 7)), _HL7_GENDER.get(msg.value(pid, 8).upper()[:1]), address)


def _preferred(items: list, uses: tuple[str, ...]):
    """The first item whose `use` is preferred (in that order), else the first item."""
    for use in uses:
        found = next((i for i in items if getattr(i, "use", None) == use), None)
        if found is not None:
            return found
    return items[0] if items else None


def from_patient(patient) -> dict:
    """A FHIR R4 Patient: official name first, home address first."""
    name = _preferred(patient.name or [], ("official", "usual"))
    given = list(name.given or []) if name else []
    addr = _preferred(patient.address or [], ("home", "billing"))
    lines = list(addr.line or []) if addr else []
    address = {"line1": lines[0] if lines else None, "line2": " ".join(lines[1:]) or None,
               "city": addr.city if addr else None, "state": addr.state if addr else None,
               "postal_code": addr.postalCode if addr else None}
    born = patient.birthDate if isinstance(patient.birthDate, date) else None
    return subscriber(name.family if name else None, given[0] if given else None, " ".join(given[1:]) or None,
                      born, patient.gender, address)
