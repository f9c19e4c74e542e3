"""What a clearinghouse and a payer send back, written for tests in their guides' formats: 999 (005010X231A1),
277CA (005010X214) and 835 (005010X221A1)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

SENDER, RECEIVER = "CLEARINGHOUSE", "PEERBRIDGE"


def _envelope(functional: str, version: str, transactions: list[list[str]], control: int, day: date) -> str:
    """ISA/GS/.../GE/IEA around transactions (each a list of segments without ST/SE)."""
    d6, d8 = day.strftime("%y%m%d"), day.strftime("%Y%m%d")
    out = [f"ISA*00*{' ' * 10}*00*{' ' * 10}*ZZ*{SENDER:<15}*ZZ*{RECEIVER:<15}*{d6}*1200*^*00501*{control:09d}*0*T*:",
           f"GS*{functional}*{SENDER}*{RECEIVER}*{d8}*1200*{control}*X*{version}"]
    st01 = {"FA": "999", "HN": "277", "HP": "835"}[functional]
    for n, body in enumerate(transactions, start=1):
        st = f"{n:04d}"
        head = f"ST*{st01}*{st}" + ("" if st01 == "835" else f"*{version}")
        out += [head, *body, f"SE*{len(body) + 2}*{st}"]
    out += [f"GE*{len(transactions)}*{control}", f"IEA*1*{control:09d}"]
    return "~\n".join(out) + "~\n"


def write_999(group_control_number: str, *, code: str = "A", errors: list[tuple[str, int, str]] = (),
              control: int = 501, day: date = date(2026, 11, 27)) -> str:
    """The clearinghouse's answer to one 837P file (one transaction set, ST02 0001): errors are (segment id,
    position in the set, IK3 error code)."""
    body = [f"AK1*HC*{group_control_number}*005010X222A1", "AK2*837*0001*005010X222A1"]
    for segment_id, position, err in errors:
        body += [f"IK3*{segment_id}*{position}**{err}"]
    body += [f"IK5*{code}" + ("*5" if code == "R" else ""),
             f"AK9*{'A' if code == 'A' else 'E' if code == 'E' else 'R'}*1*1*{0 if code == 'R' else 1}"]
    return _envelope("FA", "005010X231A1", [body], control, day)


@dataclass
class Ack:
    """One claim in a 277CA: accepted (A2:20) or rejected (A7 with a status code), the payer's number."""

    claim_number: str
    charge: str
    accepted: bool = True
    payer_claim_number: str | None = None
    status_code: str = "20"


def write_277ca(acks: list[Ack], *, control: int = 601, day: date = date(2026, 11, 27)) -> str:
    d8 = day.strftime("%Y%m%d")
    total = sum((Decimal(a.charge) for a in acks), Decimal(0))
    body = ["BHT*0085*08*277CA0001*" + d8 + "*1200*TH",
            "HL*1**20*1", "NM1*PR*2*NJ MEDICAID*****PI*NJMCD", "TRN*1*277CA0001", f"DTP*050*D8*{d8}",
            f"DTP*009*D8*{d8}",
            "HL*2*1*21*1", f"NM1*41*2*HARBOR PEER RECOVERY SERVICES*****46*{RECEIVER}", "TRN*2*BATCH",
            f"STC*A1:19:PR*{d8}*WQ*{total}",
            f"QTY*90*{sum(a.accepted for a in acks)}" if any(a.accepted for a in acks) else None,
            f"QTY*AA*{sum(not a.accepted for a in acks)}" if any(not a.accepted for a in acks) else None,
            "HL*3*2*19*1", "NM1*85*2*HARBOR PEER RECOVERY SERVICES*****XX*1234567893", "TRN*1*0",
            f"STC*A1:19:PR**WQ*{total}"]  # loop 2200C: STC02 is not used there
    body = [s for s in body if s]
    for n, ack in enumerate(acks, start=4):
        status = "A2:20:PR" if ack.accepted else f"A7:{ack.status_code}:PR"
        body += [f"HL*{n}*3*PT", "NM1*QC*1*PATIENT*TEST****MI*M123", f"TRN*2*{ack.claim_number}",
                 f"STC*{status}*{d8}*{'WQ' if ack.accepted else 'U'}*{ack.charge}"]
        if ack.payer_claim_number:
            body.append(f"REF*1K*{ack.payer_claim_number}")
        body.append(f"DTP*472*D8*{d8}")
    return _envelope("HN", "005010X214", [body], control, day)


@dataclass
class Paid:
    """One claim in an 835: charge, payment, CLP02 status, the payer's number, CAS and RARC on its one line."""

    claim_number: str
    charge: str
    paid: str
    payer_claim_number: str
    status: str = "1"
    adjustments: list[tuple[str, str, str]] = field(default_factory=list)  # (group, CARC, amount) on the line
    remarks: list[str] = field(default_factory=list)  # RARCs (LQ*HE) on the line
    procedure: str = "HC:H0038:HF"
    units: int = 3
    frequency: str = "1"


def write_835(claims: list[Paid], *, provider_adjustments: list[tuple[str, str]] = (), control: int = 701,
              day: date = date(2026, 12, 15), trace: str = "EFT0001") -> str:
    """One remittance: BPR02 is what the claims paid less the PLB adjustments, as the guide balances it."""
    d8 = day.strftime("%Y%m%d")
    total = sum((Decimal(c.paid) for c in claims), Decimal(0)) - sum((Decimal(a) for _, a in provider_adjustments),
                                                                      Decimal(0))
    body = [f"BPR*I*{total}*C*CHK************{d8}", f"TRN*1*{trace}*1999999999", f"DTM*405*{d8}",
            "N1*PR*NJ MEDICAID", "N3*PO BOX 4801", "N4*TRENTON*NJ*086504801", "PER*BL*PROVIDER SERVICES*TE*8007654321",
            "N1*PE*HARBOR PEER RECOVERY SERVICES*XX*1234567893", "LX*1"]
    for c in claims:
        body += [f"CLP*{c.claim_number}*{c.status}*{c.charge}*{c.paid}**MC*{c.payer_claim_number}*23*{c.frequency}",
                 "NM1*QC*1*PATIENT*TEST****MI*M123", f"DTM*232*{d8}",
                 f"SVC*{c.procedure}*{c.charge}*{c.paid}**{c.units}", f"DTM*472*{d8}"]
        groups: dict[str, list[str]] = {}
        for group, reason, amount in c.adjustments:
            groups.setdefault(group, []).append(f"{reason}*{amount}")
        body += [f"CAS*{group}*" + "**".join(parts) for group, parts in groups.items()]
        body += ["REF*6R*1"] + [f"LQ*HE*{r}" for r in c.remarks]
    if provider_adjustments:
        body.append(f"PLB*1234567893*{day.year}1231*" + "*".join(f"{r}*{a}" for r, a in provider_adjustments))
    return _envelope("HP", "005010X221A1", [body], control, day)
