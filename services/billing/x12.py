"""X12 837P 005010X222A1 writer: one interchange, one functional group, one transaction per batch."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from .domain.subscriber import Subscriber

VERSION = "005010X222A1"
SEGMENT, ELEMENT, COMPONENT, REPETITION = "~", "*", ":", "^"
_UNSAFE = re.compile(r"[~*:^\r\n]")
# The encounter events carry no peer name (see README: what is left out).
UNKNOWN_RENDERING = ("PEER", "")


def rendering_name(name: str | None) -> tuple[str, str]:
    """The roster keeps one display name; NM1*82 wants last and first: the last word is the family name."""
    words = (name or "").split()
    if not words:
        return UNKNOWN_RENDERING
    return words[-1], " ".join(words[:-1])


@dataclass(frozen=True)
class BillingProvider:
    """The employing agency (loop 2010AA) and the submitter contact (loop 1000A)."""

    name: str
    npi: str
    tax_id: str
    taxonomy: str
    address: str
    city: str
    state: str
    zip: str
    contact_name: str
    contact_phone: str


@dataclass(frozen=True)
class Interchange:
    """Who sends and receives the file and its control number (unique per file, from the database)."""

    control_number: int
    sender_id: str
    receiver_id: str
    receiver_name: str
    payer_name: str
    payer_id: str
    claim_filing: str
    created: datetime
    usage: str = "T"  # T test, P production


@lru_cache(maxsize=8192)  # codes, NPIs and payer names repeat on every claim of a batch
def clean(value: object) -> str:
    """A value safe inside an element: no delimiters, upper case, trimmed."""
    return _UNSAFE.sub(" ", str(value)).strip().upper()


def amount(value: Decimal | str) -> str:
    """An X12 decimal: no trailing zeros, no exponent."""
    return format(Decimal(value).quantize(Decimal("0.01")).normalize(), "f")


def _seg(*elements: object) -> str:
    parts = ["" if e is None else clean(e) for e in elements]
    while parts and parts[-1] == "":
        parts.pop()
    return ELEMENT.join(parts)


def _isa(ic: Interchange) -> str:
    when = ic.created
    return ELEMENT.join([
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", clean(ic.sender_id)[:15].ljust(15),
        "ZZ", clean(ic.receiver_id)[:15].ljust(15), when.strftime("%y%m%d"), when.strftime("%H%M"),
        REPETITION, "00501", f"{ic.control_number:09d}", "0", ic.usage, COMPONENT])


def _subscriber_segments(sub: Subscriber, member_id: str) -> list[str]:
    """Loop 2010BA: NM1*IL, N3, N4 and DMG (required because the subscriber is the patient)."""
    return [f"NM1*IL*1*{clean(sub.last_name)}*{clean(sub.first_name)}*{clean(sub.middle_name)}***MI*{clean(member_id)}",
            _seg("N3", sub.line1, sub.line2), _seg("N4", sub.city, sub.state, sub.postal_code),
            f"DMG*D8*{sub.birth_date:%Y%m%d}*{clean(sub.gender)}"]


def _claim_segments(claim: dict, hl: int) -> list[str]:
    """Loops 2000B-2400 for one claim (the subscriber is the patient); constants inline, data cleaned."""
    r_last, r_first = rendering_name(claim["rendering"].get("name"))
    frequency = claim.get("frequency") or "1"
    lines = claim["lines"]
    pos = clean(lines[0]["place_of_service"])
    total = sum((Decimal(line["charge"]) for line in lines), Decimal("0"))
    segs = [f"HL*{hl}*1*22*0", f"SBR*P*18*******{clean(claim['claim_filing'])}",
            *_subscriber_segments(claim["subscriber"], claim["member_id"]),
            f"NM1*PR*2*{clean(claim['payer_name'])}*****PI*{clean(claim['payer_id'])}",
            f"CLM*{clean(claim['claim_number'])}*{amount(total)}***{pos}:B:{clean(frequency)}*Y*A*Y*Y"]
    if frequency in ("7", "8"):
        # The payer's claim control number (277CA REF*1K or 835 CLP07), which is how the payer finds the original.
        segs.append(f"REF*F8*{clean(claim['payer_claim_number'])}")
    codes = [clean(d).replace(".", "") for d in claim["diagnoses"]]
    segs += ["HI*ABK:" + "*ABF:".join(codes),
             f"NM1*82*1*{clean(r_last)}*{clean(r_first)}****XX*{clean(claim['rendering']['npi'])}",
             f"PRV*PE*PXC*{clean(claim['rendering']['taxonomy'])}"]
    facility = claim.get("facility")
    if facility is not None:  # loop 2310C: the ED where the session took place (not the agency's office)
        segs += [f"NM1*77*2*{clean(facility.name)}*****XX*{clean(facility.npi)}", _seg("N3", facility.address),
                 _seg("N4", facility.city, facility.state, facility.zip)]
    for n, line in enumerate(lines, start=1):
        procedure = ":".join(["HC", clean(line["code"]), *map(clean, line["modifiers"])])
        place = clean(line["place_of_service"]) if line["place_of_service"] != pos else ""
        pointers = ":".join(str(int(p)) for p in line["diagnosis_pointers"])
        segs += [f"LX*{n}", f"SV1*{procedure}*{amount(line['charge'])}*UN*{int(line['units'])}*{place}**{pointers}",
                 f"DTP*472*D8*{clean(line['service_date']).replace('-', '')}"]
    return segs


def write_837(claims: list[dict], provider: BillingProvider, ic: Interchange) -> str:
    """The 837P file for claims of one payer; each claim dict carries lines, diagnoses, rendering, numbers."""
    st = "0001"
    when = ic.created
    body = [
        _seg("ST", "837", st, VERSION),
        _seg("BHT", "0019", "00", f"{ic.control_number:09d}", when.strftime("%Y%m%d"), when.strftime("%H%M"), "CH"),
        _seg("NM1", "41", 2, provider.name, "", "", "", "", "46", ic.sender_id),
        _seg("PER", "IC", provider.contact_name, "TE", re.sub(r"\D", "", provider.contact_phone)),
        _seg("NM1", "40", 2, ic.receiver_name, "", "", "", "", "46", ic.receiver_id),
        _seg("HL", 1, "", 20, 1),
        _seg("PRV", "BI", "PXC", provider.taxonomy),
        _seg("NM1", "85", 2, provider.name, "", "", "", "", "XX", provider.npi),
        _seg("N3", provider.address),
        _seg("N4", provider.city, provider.state, provider.zip),
        _seg("REF", "EI", provider.tax_id),
    ]
    payer = {"payer_name": ic.payer_name, "payer_id": ic.payer_id, "claim_filing": ic.claim_filing}
    for hl, claim in enumerate(claims, start=2):
        body += _claim_segments({**payer, **claim}, hl)
    body.append(_seg("SE", len(body) + 1, st))
    gs_number = str(ic.control_number)
    out = [_isa(ic),
           _seg("GS", "HC", ic.sender_id, ic.receiver_id, when.strftime("%Y%m%d"), when.strftime("%H%M"),
                gs_number, "X", VERSION),
           *body,
           _seg("GE", 1, gs_number),
           _seg("IEA", 1, f"{ic.control_number:09d}")]
    return SEGMENT.join(out) + SEGMENT + "\n"
