"""Race and ethnicity as CDC Race & Ethnicity codes, from HL7 v2 PID-10/PID-22 and US Core Patient extensions; pure."""
from __future__ import annotations

import re

from .hl7 import Message, Segment

CDCREC = "urn:oid:2.16.840.1.113883.6.238"
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
_CODE = re.compile(r"^[0-9]{4}-[0-9]$", re.ASCII)
# Coding systems that carry CDC codes: CDCREC by name or OID, and HL7 tables 0005/0189 from v2.5.1 on, which take
# their values from it. Codes of any other system (local tables, NullFlavor's UNK and ASKU) are left out, not guessed.
_CDC_SYSTEMS = {"", "CDCREC", "HL70005", "HL70189", "2.16.840.1.113883.6.238", CDCREC.upper()}
# HL7 table 0189 before v2.5.1 (H, N, U): the two that say something, as their CDC codes.
_HL7_ETHNIC_GROUP = {"H": "2135-2", "N": "2186-5"}


def cdc_code(code: str, system: str, *, ethnicity: bool = False) -> str | None:
    """A CDC Race & Ethnicity code from a code and its coding system; None for anything else."""
    code, system = code.strip(), system.strip().upper()
    if system not in _CDC_SYSTEMS:
        return None
    if _CODE.match(code):
        return code
    return _HL7_ETHNIC_GROUP.get(code.upper()) if ethnicity and system in ("", "HL70189") else None


def from_pid(msg: Message, pid: Segment | None, field_no: int, *, ethnicity: bool = False) -> list[str]:
    """The CDC codes of PID-10 (race) or PID-22 (ethnic group): each repetition's code, else its alternate code."""
    if pid is None or field_no >= len(pid.fields) or not pid.fields[field_no]:
        return []
    codes: list[str] = []
    for rep in range(1, pid.fields[field_no].count(msg.encoding.repetition) + 2):
        found = cdc_code(msg.value(pid, field_no, 1, rep), msg.value(pid, field_no, 3, rep), ethnicity=ethnicity)
        found = found or cdc_code(msg.value(pid, field_no, 4, rep), msg.value(pid, field_no, 6, rep),
                                  ethnicity=ethnicity)
        if found and found not in codes:
            codes.append(found)
    return codes


def from_us_core(patient, url: str) -> list[str]:
    """The CDC codes of a US Core race or ethnicity extension: its ombCategory and detailed Codings (not its text)."""
    codes: list[str] = []
    for ext in patient.extension or []:
        if ext.url != url:
            continue
        for part in ext.extension or []:
            coding = part.valueCoding
            if part.url in ("ombCategory", "detailed") and coding is not None and coding.system == CDCREC:
                code = cdc_code(coding.code or "", CDCREC)
                if code and code not in codes:
                    codes.append(code)
    return codes
