"""In-memory fakes of pairing's ports (ports.DispatchStore and the unit of work), for the unit tier."""
from __future__ import annotations

import itertools
import uuid
from datetime import datetime

from services.contracts import Event
from services.pairing.domain.shifts import Window
from services.pairing.store import patient_hash
from services.runtime.clock import FixedClock


def _new_id() -> str:
    return str(uuid.uuid4())


class FakeStore:
    """ports.DispatchStore over dicts: rows come back as copies, as a database read would give them."""

    def __init__(self):
        self.specialists: dict[str, dict] = {}
        self.shifts: list[dict] = []
        self.recusals: set[tuple[str, str]] = set()
        self.cases: dict[str, dict] = {}
        self.assignments: dict[str, dict] = {}
        self.deadlines: list[dict] = []
        self.escalations: dict[tuple[str, str], dict] = {}
        self.touchpoint_rows: list[dict] = []
        self._deadline_ids = itertools.count(1)

    # --- set-up for tests -------------------------------------------------------------------------------

    def add_specialist(self, data: dict, shifts: list[Window] = ()) -> str:
        specialist_id = _new_id()
        self.specialists[specialist_id] = {"id": specialist_id, "npi": data["npi"], "status": data["status"],
                                           "data": data, "last_paged_at": None}
        self.shifts += [{"specialist_id": specialist_id, "facility": w.facility, "starts_at": w.starts_at,
                         "ends_at": w.ends_at} for w in shifts]
        return specialist_id

    # --- roster -----------------------------------------------------------------------------------------

    async def roster_state(self, now: datetime, *, with_shifts: bool = True):
        def load(specialist_id):
            return (sum(c["specialist_id"] == specialist_id and c["status"] != "closed" for c in self.cases.values())
                    + sum(a["specialist_id"] == specialist_id and a["status"] == "offered"
                          for a in self.assignments.values()))
        people = [{"id": s["id"], "data": s["data"], "last_paged_at": s["last_paged_at"], "load": load(s["id"])}
                  for s in self.specialists.values() if s["status"] == "active"]
        shifts = [dict(s) for s in self.shifts if s["starts_at"] <= now < s["ends_at"]] if with_shifts else []
        return people, shifts

    async def recused_for(self, hashed):
        return [specialist for specialist, h in self.recusals if h == hashed] if hashed else []

    async def mark_paged(self, specialist_id, now):
        self.specialists[specialist_id]["last_paged_at"] = now

    async def get_specialist(self, specialist_id, *, lock=False):
        found = self.specialists.get(str(specialist_id))
        return dict(found) if found else None

    # --- cases ------------------------------------------------------------------------------------------

    async def open_case(self, visit, status, opened_at):
        if any((c["facility"], c["visit_number"]) == (visit.facility, visit.visit_number) for c in self.cases.values()):
            return None
        case_id = _new_id()
        self.cases[case_id] = {"id": case_id, "facility": visit.facility, "visit_number": visit.visit_number,
                               "status": status, "visit": visit.to_data(), "patient_hash": patient_hash(
                                   visit.patient_ref), "opened_at": opened_at, "specialist_id": None,
                               "preferences": None, "closed_at": None, "close_reason": None}
        return case_id

    async def get_case(self, case_id, *, lock=False):
        found = self.cases.get(str(case_id))
        return dict(found) if found else None

    async def set_case(self, case_id, **values):
        self.cases[str(case_id)].update(values)

    async def case_of_visit(self, facility, visit_number):
        for case in self.cases.values():
            if (case["facility"], case["visit_number"]) == (facility, visit_number):
                return dict(case)
        return None

    async def escalate_once(self, case_id, kind, facility, supervisor, reason, now):
        if (case_id, kind) in self.escalations:
            return False
        self.escalations[(case_id, kind)] = {"facility": facility, "supervisor": supervisor, "reason": reason,
                                             "escalated_at": now}
        return True

    async def add_touchpoints(self, case_id, plan):
        self.touchpoint_rows += [{"case_id": case_id, "kind": kind, "due_at": due, "done_at": None, "outcome": None}
                                 for kind, due in plan]

    async def cancel_touchpoints(self, case_id, outcome):
        for t in self.touchpoint_rows:
            if t["case_id"] == case_id and t["done_at"] is None and t["outcome"] is None:
                t["outcome"] = outcome

    async def touchpoints(self, case_id):
        return sorted((dict(t) for t in self.touchpoint_rows if t["case_id"] == case_id), key=lambda t: t["due_at"])

    # --- assignments and deadlines ----------------------------------------------------------------------

    async def insert_assignment(self, *, status="offered", transfer_note=None, accepted_at=None, **row):
        assignment_id = _new_id()
        self.assignments[assignment_id] = {
            "id": assignment_id, "status": status, "transfer_note": transfer_note, "accepted_at": accepted_at,
            "declined_at": None, "decline_reason": None, "arrived_at": None, "closed_at": None, **row}
        return assignment_id

    async def get_assignment(self, assignment_id, *, lock=False):
        found = self.assignments.get(str(assignment_id))
        return dict(found) if found else None

    async def assignments_of_case(self, case_id):
        return sorted((dict(a) for a in self.assignments.values() if a["case_id"] == case_id),
                      key=lambda a: a["attempt"])

    async def any_arrived(self, case_id):
        return any(a["arrived_at"] is not None for a in self.assignments.values() if a["case_id"] == case_id)

    async def transition(self, assignment_id, *, old, new, **values):
        row = self.assignments[str(assignment_id)]
        if row["status"] not in old:
            return None
        row.update(values, status=new)
        return dict(row)

    async def add_deadline(self, case_id, assignment_id, kind, due_at):
        if not any((d["assignment_id"], d["kind"]) == (assignment_id, kind) for d in self.deadlines):
            self.deadlines.append({"id": next(self._deadline_ids), "case_id": case_id, "assignment_id": assignment_id,
                                   "kind": kind, "due_at": due_at, "done_at": None, "outcome": None})

    async def settle_deadlines(self, assignment_id, now, outcome):
        for d in self.deadlines:
            if d["assignment_id"] == assignment_id and d["done_at"] is None:
                d.update(done_at=now, outcome=outcome)

    async def take_due_deadline(self, now):
        due = [d for d in self.deadlines if d["done_at"] is None and d["due_at"] <= now]
        return dict(min(due, key=lambda d: (d["due_at"], d["id"]))) if due else None

    async def finish_deadline(self, deadline_id, now, outcome):
        for d in self.deadlines:
            if d["id"] == deadline_id:
                d.update(done_at=now, outcome=outcome)


class FakeUnitOfWork:
    """A unit of work as the use cases see it (ports.Work): the fake store, a fixed clock, and the events emitted,
    in order, as the outbox would have them."""

    def __init__(self, store: FakeStore, clock: FixedClock):
        self.store = store
        self.clock = clock
        self.events: list[Event] = []

    async def emit(self, event: Event) -> Event:
        event.to_data()  # what the outbox would write: a model that cannot serialise fails here, as there
        self.events.append(event)
        return event

    def take(self) -> list[Event]:
        """The events emitted since the last take, as a consumer would read them next."""
        taken, self.events = self.events, []
        return taken
