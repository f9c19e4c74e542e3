"""What intake decides when a visit arrives or changes: its new state and the events that announce it."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VisitDecision:
    """The visit's new record and the events (name, data) to publish with it."""

    record: dict
    events: list[tuple[str, dict]] = field(default_factory=list)


def decide_visit(previous: dict | None, visit: dict) -> VisitDecision:
    """Register or update a visit; announce peer support the first time the visit is indicated."""
    was_indicated = bool(previous and previous.get("peer_indicated"))
    if previous and was_indicated and not visit["peer_indicated"]:
        # An indication once made stays: a later update without the diagnosis does not call the peer back.
        visit = {**visit, "peer_indicated": True,
                 "indications": _merge(previous.get("indications", []), visit["indications"])}
    events = [("EdVisitUpdated" if previous else "EdVisitRegistered", visit)]
    if visit["peer_indicated"] and not was_indicated:
        events.append(("PeerSupportIndicated", visit))
    return VisitDecision(record=visit, events=events)


def _merge(old: list[dict], new: list[dict]) -> list[dict]:
    seen = {(i["kind"], i["code"]) for i in new}
    return new + [i for i in old if (i["kind"], i["code"]) not in seen]
