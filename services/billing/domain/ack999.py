"""999 Implementation Acknowledgment (005010X231A1): was our 837P file, and each transaction set, accepted."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .x12read import Document, RefusedFile, transactions

# AK9-01 / IK5-01 -> what the batch becomes.
GROUP_STATUS = {"A": "accepted", "E": "accepted-with-errors", "P": "partially-accepted", "R": "rejected",
                "M": "rejected", "W": "rejected", "X": "rejected"}
SET_CODES = {"A", "E", "M", "R", "W", "X"}


@dataclass
class SetAck:
    """One transaction set's outcome (AK2/IK5) and the segment errors reported for it (IK3/IK4)."""

    control_number: str
    code: str
    errors: list[dict] = field(default_factory=list)


@dataclass
class Ack999:
    """A 999's answer about one functional group of ours (AK1-02 = our GS06)."""

    group_control_number: str
    status: str
    code: str
    included: int
    received: int
    accepted: int
    sets: list[SetAck] = field(default_factory=list)

    def summary(self) -> dict:
        return asdict(self)


def parse_999(doc: Document) -> list[Ack999]:
    """Every AK1 group answered in the file; RefusedFile for a 999 that does not follow the guide."""
    acks = []
    for tx in transactions(doc):
        ack, current = None, None
        for seg in tx:
            if seg.id == "AK1":
                if seg.get(1) != "HC":
                    raise seg.refuse("AK101 is not HC: this 999 does not answer an 837 file")
                ack = Ack999(str(seg.number(2)), "", "", 0, 0, 0)  # our GS06: 1 to 9 digits
            elif seg.id == "AK2":
                if ack is None or seg.get(1) != "837":
                    raise seg.refuse("AK2 must follow AK1 and answer an 837 transaction set")
                current = SetAck(seg.get(2), "")
                ack.sets.append(current)
            elif seg.id in ("IK3", "IK4", "CTX") and current is not None:
                current.errors.append(_error(seg))
            elif seg.id == "IK5":
                if current is None or seg.get(1) not in SET_CODES:
                    raise seg.refuse("IK501 is not a transaction set acknowledgment code (A, E, M, R, W, X)")
                current.code = seg.get(1)
            elif seg.id == "AK9":
                if ack is None or seg.get(1) not in GROUP_STATUS:
                    raise seg.refuse("AK901 is not a group acknowledgment code (A, E, P, R, M, W, X)")
                ack.code, ack.status = seg.get(1), GROUP_STATUS[seg.get(1)]
                ack.included, ack.received, ack.accepted = seg.number(2), seg.number(3), seg.number(4)
        if ack is None or not ack.code:
            at = tx[-1]
            raise RefusedFile([*at.refuse("a 999 needs AK1 and AK9").problems])
        if any(not s.code for s in ack.sets):
            raise tx[-1].refuse("every AK2 needs its IK5")
        acks.append(ack)
    return acks


def _error(seg) -> dict:
    """An IK3 (segment in error), IK4 (element in error) or CTX, by positions and codes only."""
    if seg.id == "IK3":
        return {"segment_id": seg.get(1), "position": seg.get(2), "loop": seg.get(3), "code": seg.get(4)}
    if seg.id == "IK4":
        return {"element": seg.get(1), "code": seg.get(3)}
    return {"context": seg.get(1).split(":")[0]}
