"""Builders of HL7 v2 test messages (synthetic patients only)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from tests.support.when import hl7_ts, minutes_ago

SECRET_NAME = "ZZTESTNAME"
SECRET_MRN = "MRN-ZZ-4471"
SECRET_BIRTH = "19810314"
# When the default visit arrived: half an hour before the test session started, to the minute, so that two
# messages built alike in one session are byte for byte the same whatever day the suite runs.
ARRIVED = minutes_ago(30).replace(second=0, microsecond=0)
RECEIVED = ARRIVED + timedelta(minutes=30)
# The default message's timestamps as written, for tests that edit them by their text: MSH-7 and EVN-2, PV1-44.
SENT_TEXT = hl7_ts(RECEIVED).encode()
ARRIVED_TEXT = hl7_ts(ARRIVED).encode()


def age_on(day: date) -> int:
    """The synthetic patient's age in whole years on a day."""
    born = date(int(SECRET_BIRTH[:4]), int(SECRET_BIRTH[4:6]), int(SECRET_BIRTH[6:]))
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def adt(trigger: str = "A04", *, facility: str = "GENHOSP", visit_number: str | None = "V1001",
        control_id: str | None = None, patient_class: str = "E", diagnoses: tuple[str, ...] = ("T40.1X1A",),
        complaint: str = "", version: str = "2.5.1", processing_id: str = "P", extra: tuple[str, ...] = (),
        ack_modes: tuple[str, str] = ("", ""), sep: str = "\r", charset: str = "", location: str = "ED",
        arrived: datetime | None = None) -> bytes:
    """An ADT message for an ED visit (arrived at ARRIVED unless told); every field an extractor reads is filled."""
    control_id = control_id or uuid.uuid4().hex[:16]
    arrived = arrived or ARRIVED
    sent = hl7_ts(arrived + timedelta(minutes=30))
    msh = (f"MSH|^~\\&|EPICADT|{facility}^1.2.3^ISO|PEERBRIDGE|PB|{sent}||ADT^{trigger}^ADT_A01|{control_id}"
           f"|{processing_id}|{version}|||{ack_modes[0]}|{ack_modes[1]}||{charset}")
    segments = [
        msh,
        f"EVN|{trigger}|{sent}",
        f"PID|1||{SECRET_MRN}^^^GENHOSP&2.16.840.1.113883.3.999&ISO^MR||{SECRET_NAME}^ALEX||{SECRET_BIRTH}|M"
        f"|||12 Elm St^^Trenton^NJ^08608||(609)555-0100||SPA",
        f"PV1|1|{patient_class}|{location}^12^B3||||||||||||||||{visit_number or ''}|||||||||||||||||||||||||"
        f"{hl7_ts(arrived)}",
    ]
    if complaint:
        segments.append(f"OBX|1|CWE|8661-1^Chief complaint^LN||^{complaint}")
    for i, code in enumerate(diagnoses, start=1):
        segments.append(f"DG1|{i}||{code}^Diagnosis^I10")
    segments.append("IN1|1|NJMCD" + "|" * 34 + "MEM123")
    segments.extend(extra)
    return (sep.join(segments) + sep).encode("utf-8")


def order(kind: str = "ORM", *, facility: str = "GENHOSP", visit_number: str | None = "V1001",
          control_id: str | None = None, code: str = "PEERCONSULT", control: str = "NW", patient_class: str = "E",
          code_field: str = "OBR-4", alternate: bool = False, version: str | None = None,
          diagnoses: tuple[str, ...] = (), location: str = "ED") -> bytes:
    """A general order for the default visit: ORM^O01 (v2.3) or OMG^O19 (v2.5.1), order control and orderable
    given; the orderable's code in OBR-4 (its first component, or with alternate its fourth) or in ORC-16."""
    control_id = control_id or uuid.uuid4().hex[:16]
    trigger = "O01" if kind == "ORM" else "O19"
    version = version or ("2.3" if kind == "ORM" else "2.5.1")
    sent = hl7_ts(ARRIVED + timedelta(minutes=40))
    orderable = f"LOCAL99^Local orderable^L^{code}^Peer recovery consult^99PB" if alternate else \
        f"{code}^Peer recovery consult^L"
    orc16 = orderable if code_field == "ORC-16" else ""
    obr4 = orderable if code_field == "OBR-4" else "CONSULT^Consult^L"
    segments = [
        f"MSH|^~\\&|EPICORD|{facility}^1.2.3^ISO|PEERBRIDGE|PB|{sent}||{kind}^{trigger}^{kind}_{trigger}|{control_id}"
        f"|P|{version}",
        f"PID|1||{SECRET_MRN}^^^GENHOSP&2.16.840.1.113883.3.999&ISO^MR||{SECRET_NAME}^ALEX||{SECRET_BIRTH}|M",
        f"PV1|1|{patient_class}|{location}^12^B3||||||||||||||||{visit_number or ''}|||||||||||||||||||||||||"
        f"{hl7_ts(ARRIVED)}",
        f"ORC|{control}|ORD-{control_id}^EPIC|||||||{sent}|||||||{orc16}",
        f"OBR|1|ORD-{control_id}^EPIC||{obr4}|||{sent}",
    ]
    for i, dx in enumerate(diagnoses, start=1):
        segments.append(f"DG1|{i}||{dx}^Diagnosis^I10")
    return ("\r".join(segments) + "\r").encode("utf-8")
