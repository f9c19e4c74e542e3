"""What intake decides when a visit arrives or changes: its new state and the events that announce it."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.contracts import (EdVisitCancelled, EdVisitDischarged, EdVisitRegistered, EdVisitUpdated, Event,
                                Indication, PeerSupportIndicated, Visit)

CLINICIAN_REQUEST = Indication(kind="clinician-request", code="clinician-request",
                               reason="the ED team asked for a peer")


@dataclass
class VisitDecision:
    """The visit's new record and status, and the events to publish with it.

    An event of the decision that carries a Visit carries this record (see announce), so all of them share one dump."""

    record: Visit
    status: str = "registered"
    events: list[Event] = field(default_factory=list)
    _data: dict | None = field(default=None, init=False, repr=False, compare=False)

    def record_data(self) -> dict:
        """The record as JSON data (the visit row and the events carrying it), dumped once; read-only."""
        if self._data is None:
            self._data = self.record.model_dump(mode="json", exclude_none=True)
        return self._data

    def event_data(self, event: Event) -> dict | None:
        """The event's data when it is the record's (a Visit event), None when the event must dump its own."""
        return self.record_data() if isinstance(event, Visit) else None


def announce(cls: type[EdVisitRegistered | EdVisitUpdated | PeerSupportIndicated], visit: Visit) -> Event:
    """The visit as one of the events that carry it whole."""
    # The visit was validated when built and the event has exactly its fields: the same (frozen) values under the
    # event's class, not a second validation (model_construct costs five times as much, model_copy twice, on every
    # message). The two share their field dict, which is safe because both are frozen.
    event = cls.__new__(cls)
    for slot in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
        object.__setattr__(event, slot, getattr(visit, slot))
    return event


def decide_visit(previous: Visit | None, visit: Visit, status: str | None = None) -> VisitDecision:
    """Register or update a visit; announce peer support the first time the visit is indicated."""
    was_indicated = bool(previous and previous.peer_indicated)
    if previous and was_indicated:
        # An indication once made stays: a later update without the diagnosis does not call the peer back.
        visit = visit.model_copy(update={"peer_indicated": True,
                                         "indications": _merge(previous.indications, visit.indications)})
    if previous and previous.crisis:
        # So does a crisis: a later message without the self-harm code does not take the crisis path away.
        rules = list(dict.fromkeys([*(visit.crisis_rules or ()), *(previous.crisis_rules or ())]))
        visit = visit.model_copy(update={"crisis": True, "crisis_rules": rules or None})
    if previous and _without_lineage(previous) == _without_lineage(visit):
        # The same visit again (a resent message, a retried request): nothing new to announce.
        return VisitDecision(record=visit, status=status or "registered")
    events = [announce(EdVisitUpdated if previous else EdVisitRegistered, visit)]
    if visit.peer_indicated and not was_indicated:
        events.append(announce(PeerSupportIndicated, visit))
    return VisitDecision(record=visit, status=status or "registered", events=events)


def decide_request(previous: Visit, status: str, message_id: str | None = None, *,
                   request: Indication = CLINICIAN_REQUEST, trigger: str = "clinician-request") -> VisitDecision:
    """A clinician asks for a peer (API, HL7 order, FHIR ServiceRequest): the visit becomes indicated, once."""
    if any(i.kind == "clinician-request" for i in previous.indications):
        return VisitDecision(record=previous, status=status)
    visit = previous.model_copy(update={"indications": [*previous.indications, request],
                                        "peer_indicated": True, "trigger": trigger,
                                        "message_id": message_id or previous.message_id})
    return decide_visit(previous, visit, status)


def decide_discharge(previous_status: str | None, record: Visit, at: datetime, *,
                     cancelled: bool = False) -> VisitDecision:
    """A03 discharges, A13 cancels a discharge; re-applying either changes nothing."""
    if cancelled:
        if previous_status not in (None, "discharged"):
            return VisitDecision(record, previous_status)
        return VisitDecision(record, "registered", [EdVisitDischarged(
            facility=record.facility, visit_number=record.visit_number, discharged_at=at, cancelled=True)])
    if previous_status == "discharged":
        return VisitDecision(record, previous_status)
    return VisitDecision(record, "discharged", [EdVisitDischarged(
        facility=record.facility, visit_number=record.visit_number, discharged_at=at)])


def decide_cancel(previous_status: str | None, record: Visit, at: datetime,
                  merged_into: str | None = None) -> VisitDecision:
    """A11 cancels the visit, A40 merges it into another; a visit is cancelled once."""
    if previous_status in ("cancelled", "merged"):
        return VisitDecision(record, previous_status)
    event = EdVisitCancelled(facility=record.facility, visit_number=record.visit_number, cancelled_at=at,
                             reason="merged" if merged_into else "cancelled", merged_into=merged_into or None)
    return VisitDecision(record, "merged" if merged_into else "cancelled", [event])


def _without_lineage(record: Visit) -> dict:
    """The visit's facts, without which message last told them."""
    return record.model_dump(exclude={"message_id"}, exclude_none=True)


def _merge(old: list[Indication], new: list[Indication]) -> list[Indication]:
    seen = {(i.kind, i.code) for i in new}
    return new + [i for i in old if (i.kind, i.code) not in seen]
