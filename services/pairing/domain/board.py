"""Where an open case stands on the supervisor's board, in one code per case (pure)."""
from __future__ import annotations

STATES = ("waiting", "offered", "escalated", "no-peer", "accepted", "at-bedside", "consent", "follow-up")
NO_PEER_KINDS = ("transfer",)


def board_state(case_status: str, assignment_status: str | None, arrived: bool, consent: bool,
                escalation_reason: str | None, escalation_kind: str | None) -> str:
    """waiting (for an offer), offered, escalated (nobody accepted), no-peer (nobody eligible), accepted, at-bedside,
    consent (recorded), follow-up (the plan's calls)."""
    if case_status == "escalated":
        if escalation_kind in NO_PEER_KINDS or (escalation_reason or "").startswith("no eligible"):
            return "no-peer"
        return "escalated"
    if case_status == "follow-up":
        return "follow-up"
    if case_status == "paging":
        return "offered" if assignment_status == "offered" else "waiting"
    if assignment_status == "offered":
        return "offered"
    if consent:
        return "follow-up" if assignment_status == "completed" else "consent"
    if arrived:
        return "at-bedside"
    return "accepted" if assignment_status in ("accepted", "completed") else "waiting"
