"""What an ADT message says about an ED visit: the header, the trigger, and the visit fields events carry."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo

from services.contracts import Indication, PatientRef, Payer, Visit

from .hl7 import Hl7Problem, Message
from .indications import normalise_icd10
from .language import to_bcp47
from .race import from_pid as race_codes
from .subscriber import from_pid

VISIT_EVENTS = frozenset({"A01", "A03", "A04", "A08", "A11", "A13", "A40"})
ED_FACILITY_TYPE = "261QE0002X"
_ICD10_SYSTEMS = {"", "I10", "I10C", "ICD10", "ICD10CM", "ICD-10-CM", "2.16.840.1.113883.6.90"}
_GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown"}
# ASCII digits only: \d and int() would take other scripts' digits (and int() fails on superscripts).
_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?$", re.ASCII)
_NM = re.compile(r"^\+?(\d+)(?:\.\d*)?$", re.ASCII)


class VisitError(Hl7Problem):
    """The message is understood but cannot be processed (AE)."""


@dataclass(frozen=True)
class Header:
    """The MSH fields that route, acknowledge and deduplicate a message (no patient data)."""

    sending_app: str
    sending_facility: str
    receiving_app: str
    receiving_facility: str
    control_id: str
    message_code: str
    trigger: str
    structure: str
    processing_id: str
    version: str
    accept_ack: str
    app_ack: str
    charset: str

    @property
    def sender(self) -> str:
        return f"{self.sending_app}|{self.sending_facility}"

    @property
    def message_type(self) -> str:
        return f"{self.message_code}^{self.trigger}" if self.trigger else self.message_code


def header(msg: Message) -> Header:
    """The message's MSH, as plain strings."""
    trigger = msg.get("MSH", 9, 2) or msg.get("EVN", 1)
    return Header(
        sending_app=msg.get("MSH", 3), sending_facility=msg.get("MSH", 4),
        receiving_app=msg.get("MSH", 5), receiving_facility=msg.get("MSH", 6),
        control_id=msg.get("MSH", 10), message_code=msg.get("MSH", 9, 1).upper(), trigger=trigger.upper(),
        structure=msg.get("MSH", 9, 3), processing_id=msg.get("MSH", 11).upper(), version=msg.get("MSH", 12),
        accept_ack=msg.get("MSH", 15).upper(), app_ack=msg.get("MSH", 16).upper(), charset=msg.charset)


def salvage_header(raw: bytes) -> Header | None:
    """The routing fields of a message that failed to parse, read naively so its ACK can still echo MSH-10."""
    line = raw.removeprefix(b"\xef\xbb\xbf").lstrip().split(b"\r", 1)[0].split(b"\n", 1)[0].decode("latin-1")
    if not line.startswith("MSH") or len(line) < 4:
        return None
    fields = ["MSH", line[3], *line[4:].split(line[3])]

    def at(n: int) -> str:
        return fields[n].split("^")[0].replace("\x00", "")[:199] if n < len(fields) else ""

    return Header(at(3), at(4), at(5), at(6), at(10), "", "", "", "P", at(12)[:10], "", "", "")


@dataclass
class AdtVisit:
    """The visit an ADT message describes, plus intake-only inputs (complaint texts are matched, not kept)."""

    trigger: str
    facility: str
    visit_number: str
    is_ed: bool
    visit: Visit | None  # None when the message names no visit (PV1-19 empty)
    event_at: datetime | None = None
    complaints: list[str] = field(default_factory=list)
    prior_visit_number: str = ""
    subscriber: dict | None = None  # PID demographics for billing; kept in intake, never in events
    request: Indication | None = None  # a peer consult order (ORM/OMG): the clinician's request it makes


def is_emergency(msg: Message, emergency_locations: frozenset[str]) -> bool:
    """PV1-2 = E, a configured emergency location in PV1-3, or the syndromic ED facility type (OBX SS003)."""
    if msg.get("PV1", 2).upper() == "E":
        return True
    if msg.get("PV1", 3).upper() in emergency_locations:
        return True
    return any(msg.value(o, 3) == "SS003" and msg.value(o, 5) == ED_FACILITY_TYPE for o in msg.all("OBX"))


def parse_ts(value: str, tz: tzinfo) -> datetime | None:
    """An HL7 TS/DTM (YYYY[MM[DD[HH[MM[SS[.S]]]]]][+-ZZZZ]); no offset means the feed's time zone; None when empty.

    ValueError when a value is present but is not a valid timestamp (impossible date, offset of 24 hours or more)."""
    if not value.strip():
        return None
    m = _TS.match(value.strip())
    if not m:
        raise ValueError("not an HL7 timestamp")
    year, month, day, hour, minute, second, offset = m.groups()
    if offset:
        hours, minutes = int(offset[1:3]), int(offset[3:5])
        if hours > 23 or minutes > 59:
            raise ValueError("time zone offset out of range")
        tz = timezone((1 if offset[0] == "+" else -1) * timedelta(hours=hours, minutes=minutes))
    return datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0), int(second or 0),
                    tzinfo=tz)


def _ts(msg: Message, name: str, field_no: int, tz: tzinfo) -> datetime | None:
    """A timestamp field of the first segment named; VisitError (AE 102, the field named) when it is invalid."""
    try:
        return parse_ts(msg.get(name, field_no), tz)
    except ValueError:
        raise VisitError(f"{name}-{field_no} is not a valid timestamp", "102", f"{name}^1^{field_no}") from None


def age_in_years(born: date, on: date) -> int | None:
    """Whole years between birth and the visit; None when the dates are impossible."""
    years = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return years if 0 <= years <= 150 else None


def _reported_age(msg: Message) -> int | None:
    """Age from a syndromic-surveillance OBX 21612-7 in years, for feeds that send no birth date."""
    for number, obx in enumerate(msg.all("OBX"), start=1):
        if msg.value(obx, 3) == "21612-7" and msg.value(obx, 6).lower() in ("a", "yr", "year", "years"):
            value = msg.value(obx, 5).strip()
            m = _NM.match(value)
            if value and not m:
                raise VisitError("OBX-5 (age) is not a number", "102", f"OBX^{number}^5")
            if m and int(m[1]) <= 150:
                return int(m[1])
    return None


def _diagnoses(msg: Message) -> list[str]:
    codes = []
    for dg1 in msg.all("DG1"):
        system = (msg.value(dg1, 3, 3) or msg.value(dg1, 2)).upper()
        code = normalise_icd10(msg.value(dg1, 3))
        if system in _ICD10_SYSTEMS and code and code not in codes:
            codes.append(code)
    return codes


def _complaints(msg: Message) -> list[str]:
    texts = [" ".join(msg.components(o, 5)) for o in msg.all("OBX") if msg.value(o, 3) == "8661-1"]
    pv2 = msg.first("PV2")
    if pv2:
        texts.append(" ".join(msg.components(pv2, 3)))
    return [t for t in texts if t.strip()]


def _patient_ref(msg: Message, facility: str) -> PatientRef | None:
    pid = msg.first("PID")
    value = msg.value(pid, 3) if pid else ""
    if not value:
        return None
    namespace, universal, kind = msg.value(pid, 3, 4, 1, 1), msg.value(pid, 3, 4, 1, 2), msg.value(pid, 3, 4, 1, 3)
    if universal and kind.upper() == "ISO":
        system = f"urn:oid:{universal}"
    else:
        system = f"urn:peerbridge:{facility}:{namespace or msg.value(pid, 3, 5) or 'MR'}"
    return PatientRef(system=system, value=value)


def _payer(msg: Message) -> Payer | None:
    in1 = msg.first("IN1")
    if not in1:
        return None
    return Payer(plan_id=msg.value(in1, 2) or None, member_id=msg.value(in1, 36) or msg.value(in1, 49) or None)


def extract(msg: Message, *, emergency_locations: frozenset[str], tz: tzinfo, received_at: datetime,
            hdr: Header | None = None) -> AdtVisit:
    """The visit an ADT message is about (hdr: its header when the caller has read it); VisitError when an ED visit
    lacks what identifies it."""
    hdr = hdr or header(msg)
    facility = hdr.sending_facility
    visit_number = msg.get("PV1", 19)
    is_ed = is_emergency(msg, emergency_locations)
    if not facility:
        raise VisitError("sending facility (MSH-4) is required", "101", "MSH^1^4")
    if len(facility) > 64:
        raise VisitError("sending facility (MSH-4.1) is longer than 64 characters", "102", "MSH^1^4")
    if len(visit_number) > 64:
        raise VisitError("visit number (PV1-19.1) is longer than 64 characters", "102", "PV1^1^19")
    sent_at, event_at = _ts(msg, "MSH", 7, tz), _ts(msg, "EVN", 2, tz)
    arrived = _ts(msg, "PV1", 44, tz) or event_at or sent_at or received_at
    born = _ts(msg, "PID", 7, tz)
    pid = msg.first("PID")
    age = age_in_years(born.date(), arrived.date()) if born else _reported_age(msg)
    visit = Visit(
        facility=facility, visit_number=visit_number, arrived_at=arrived.astimezone(timezone.utc),
        location=msg.get("PV1", 3) or None, bed=msg.get("PV1", 3, 3) or None,
        language=to_bcp47(msg.get("PID", 15)) or to_bcp47(msg.get("PID", 15, 2)),
        gender=_GENDER.get(msg.get("PID", 8).upper()[:1]), age_years=age,
        race=race_codes(msg, pid, 10) or None, ethnicity=race_codes(msg, pid, 22, ethnicity=True) or None,
        diagnoses=_diagnoses(msg),
        indications=[], peer_indicated=False, payer=_payer(msg), patient_ref=_patient_ref(msg, facility),
        trigger=hdr.trigger) if visit_number else None
    happened = (_ts(msg, "PV1", 45, tz) if hdr.trigger == "A03" else None) or event_at or sent_at or received_at
    return AdtVisit(hdr.trigger, facility, visit_number, is_ed, visit, happened.astimezone(timezone.utc),
                    _complaints(msg), msg.get("MRG", 5), from_pid(msg))
