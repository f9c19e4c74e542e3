"""What intake decides when a visit arrives or changes: its new state and the events that announce it."""
from __future__ import annotations

from dataclasses import dataclass, field

CLINICIAN_REQUEST = {"kind": "clinician-request", "code": "clinician-request",
                     "reason": "the ED team asked for a peer"}


@dataclass
class VisitDecision:
    """The visit's new record and status, and the events (name, data) to publish with it."""

    record: dict
    status: str = "registered"
    events: list[tuple[str, dict]] = field(default_factory=list)


def decide_visit(previous: dict | None, visit: dict, status: str | None = None) -> VisitDecision:
    """Register or update a visit; announce peer support the first time the visit is indicated."""
    was_indicated = bool(previous and previous.get("peer_indicated"))
    if previous and was_indicated:
        # An indication once made stays: a later update without the diagnosis does not call the peer back.
        merged = _merge(previous.get("indications", []), visit["indications"])
        visit = {**visit, "peer_indicated": True, "indications": merged}
    if previous and _without_lineage(previous) == _without_lineage(visit):
        # The same visit again (a resent message, a retried request): nothing new to announce.
        return VisitDecision(record=visit, status=status or "registered")
    events = [("EdVisitUpdated" if previous else "EdVisitRegistered", visit)]
    if visit["peer_indicated"] and not was_indicated:
        events.append(("PeerSupportIndicated", visit))
    return VisitDecision(record=visit, status=status or "registered", events=events)


def decide_request(previous: dict, status: str, message_id: str | None = None) -> VisitDecision:
    """A clinician asks for a peer: the visit becomes indicated (once) whatever its diagnoses."""
    if any(i["kind"] == "clinician-request" for i in previous.get("indications", [])):
        return VisitDecision(record=previous, status=status)
    visit = {**previous, "indications": [*previous.get("indications", []), CLINICIAN_REQUEST],
             "peer_indicated": True, "trigger": "clinician-request"}
    if message_id:
        visit["message_id"] = message_id
    return decide_visit(previous, visit, status)


def decide_discharge(previous_status: str | None, record: dict, at: str, *, cancelled: bool = False) -> VisitDecision:
    """A03 discharges, A13 cancels a discharge; re-applying either changes nothing."""
    ref = {"facility": record["facility"], "visit_number": record["visit_number"]}
    if cancelled:
        if previous_status not in (None, "discharged"):
            return VisitDecision(record, previous_status)
        return VisitDecision(record, "registered", [("EdVisitDischarged", {**ref, "discharged_at": at,
                                                                           "cancelled": True})])
    if previous_status == "discharged":
        return VisitDecision(record, previous_status)
    return VisitDecision(record, "discharged", [("EdVisitDischarged", {**ref, "discharged_at": at})])


def decide_cancel(previous_status: str | None, record: dict, at: str, merged_into: str | None = None) -> VisitDecision:
    """A11 cancels the visit, A40 merges it into another; a visit is cancelled once."""
    if previous_status in ("cancelled", "merged"):
        return VisitDecision(record, previous_status)
    data = {"facility": record["facility"], "visit_number": record["visit_number"], "cancelled_at": at,
            "reason": "merged" if merged_into else "cancelled"}
    if merged_into:
        data["merged_into"] = merged_into
    return VisitDecision(record, "merged" if merged_into else "cancelled", [("EdVisitCancelled", data)])


def _without_lineage(record: dict) -> dict:
    """The visit's facts, without which message last told them."""
    return {k: v for k, v in record.items() if k != "message_id"}


def _merge(old: list[dict], new: list[dict]) -> list[dict]:
    seen = {(i["kind"], i["code"]) for i in new}
    return new + [i for i in old if (i["kind"], i["code"]) not in seen]
