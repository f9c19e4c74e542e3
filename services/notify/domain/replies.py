"""What an SMS reply says: accept, decline (with a reason from a fixed list), acknowledge, or nothing we know."""
from __future__ import annotations

import re
from dataclasses import dataclass

ACCEPT = {"1", "yes", "y"}
DECLINE = {"2", "no", "n"}
ACK = {"ok", "ack", "okay"}
# Reasons a peer may text; any other word becomes "other", so no free text travels on.
REASONS = {"busy": "busy", "far": "too-far", "away": "too-far", "off": "off-shift", "shift": "off-shift",
           "sick": "unwell", "unwell": "unwell", "conflict": "conflict", "caseload": "caseload", "full": "caseload"}
_CODE = re.compile(r"^[0-9]{4}$")


@dataclass(frozen=True)
class Reply:
    """An SMS reply, understood: answer is accept, decline, ack or unknown."""

    answer: str
    code: str | None = None
    reason: str | None = None


def parse_reply(body: str) -> Reply:
    """`1`, `YES`, `y 4821`, `2 busy`, `no 4821 far`, `OK`: case, punctuation and spacing do not matter."""
    words = re.sub(r"[^0-9a-z ]+", " ", (body or "").lower()).split()
    if not words:
        return Reply("unknown")
    head, rest = words[0], words[1:]
    code = rest.pop(0) if rest and _CODE.match(rest[0]) else None
    if head in ACCEPT:
        return Reply("accept", code)
    if head in DECLINE:
        reason = (REASONS.get(rest[0], "other") if rest else None)
        return Reply("decline", code, reason)
    if head in ACK and not rest:
        return Reply("ack")
    return Reply("unknown")
