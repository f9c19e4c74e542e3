"""In-memory fakes of pairing's ports (ports.PairingStore and the unit of work), for the unit tier."""
from __future__ import annotations

import copy
import itertools
import json
import uuid
from datetime import datetime

from services.contracts import Event
from services.pairing.domain.shifts import Window
from services.pairing.store import patient_hash
from services.runtime.clock import FixedClock


# Columns of the tables updated by name (migrations 0001, 0004, 0008): an unknown one fails, as it does in SQL.
CASE_COLUMNS = frozenset({"id", "facility", "visit_number", "status", "visit", "patient_hash", "specialist_id",
                          "opened_at", "closed_at", "close_reason", "preferences", "preferences_recorded_at",
                          "crisis", "reopened_at"})
ASSIGNMENT_COLUMNS = frozenset({"id", "case_id", "specialist_id", "facility", "visit_number", "status", "attempt",
                                "offered_at", "expires_at", "accepted_at", "declined_at", "decline_reason",
                                "arrived_at", "closed_at", "transfer_note", "explanation"})


def _new_id() -> str:
    return str(uuid.uuid4())


def _read(row: dict) -> dict:
    """A row as a read returns it: a copy, its jsonb values (visit, data, explanation, preferences) included."""
    return copy.deepcopy(row)


def _update(table: dict[str, dict], columns: frozenset[str], row_id, values: dict) -> None:
    """store.update_row: set columns of one row; no row with that id updates nothing."""
    unknown = set(values) - columns
    if unknown:
        raise LookupError(f"column(s) {sorted(unknown)} do not exist")
    row = table.get(str(row_id))
    if row is not None:
        row.update(copy.deepcopy(values))


def _profile_version(data: dict) -> str:
    """What the database's trigger gives: a version that changes whenever the profile does."""
    return json.dumps(data, sort_keys=True, default=str)


class FakeStore:
    """ports.PairingStore over dicts: rows come back as copies, as a database read would give them; uuid columns
    hold text (the SQL's uuid values as str)."""

    def __init__(self):
        self.specialists: dict[str, dict] = {}
        self.shifts: list[dict] = []
        self.recusals: set[tuple[str, str]] = set()
        self.cases: dict[str, dict] = {}
        self.assignments: dict[str, dict] = {}
        self.deadlines: list[dict] = []
        self.escalations: dict[tuple[str, str], dict] = {}
        self.touchpoint_rows: list[dict] = []
        self.consents: list[dict] = []
        self.encounters: list[dict] = []
        self.contact_rows: list[dict] = []
        self._deadline_ids = itertools.count(1)
        self._touchpoint_ids = itertools.count(1)

    # --- set-up for tests -------------------------------------------------------------------------------

    def add_specialist(self, data: dict, shifts: list[Window] = ()) -> str:
        specialist_id = _new_id()
        self.specialists[specialist_id] = {"id": specialist_id, "npi": data["npi"], "status": data["status"],
                                           "status_reason": None, "data": copy.deepcopy(data), "last_paged_at": None}
        self.shifts += [{"specialist_id": specialist_id, "facility": w.facility, "starts_at": w.starts_at,
                         "ends_at": w.ends_at} for w in shifts]
        return specialist_id

    def set_status(self, specialist_id: str, status: str, reason: str | None = None) -> None:
        """What PUT /specialists/{id} stores when only the status changes (store.update_specialist)."""
        row = self.specialists[specialist_id]
        row.update(status=status, status_reason=reason, data={**row["data"], "status": status})

    # --- roster -----------------------------------------------------------------------------------------

    async def roster_state(self, now: datetime, *, with_shifts: bool = True):
        def load(specialist_id):
            return (sum(c["specialist_id"] == specialist_id and c["status"] != "closed" for c in self.cases.values())
                    + sum(a["specialist_id"] == specialist_id and a["status"] == "offered"
                          for a in self.assignments.values()))
        people = [{"id": s["id"], "profile_version": _profile_version(s["data"]), "last_paged_at": s["last_paged_at"],
                   "load": load(s["id"])} for s in self.specialists.values() if s["status"] == "active"]
        shifts = [dict(s) for s in self.shifts if s["starts_at"] <= now < s["ends_at"]] if with_shifts else []
        return people, shifts

    async def profiles(self, ids):
        return [{"id": i, "profile_version": _profile_version(self.specialists[i]["data"]),
                 "data": copy.deepcopy(self.specialists[i]["data"])} for i in ids if i in self.specialists]

    async def lock_roster(self):
        self.roster_locks = getattr(self, "roster_locks", 0) + 1

    async def recused_for(self, hashed):
        return [specialist for specialist, h in self.recusals if h == hashed] if hashed else []

    async def open_cases(self, visits, statuses, opened_at):
        opened = []
        for visit, status in zip(visits, statuses):
            case_id = await self.open_case(visit, status, opened_at)
            case = None if case_id is None else await self.get_case(case_id)
            opened.append(None if case is None else {**case, "recused": await self.recused_for(case["patient_hash"])})
        return opened

    async def insert_offers(self, offers):
        ids = []
        for offer in offers:
            ids.append(await self.insert_assignment(**offer))
            await self.add_deadline(offer["case_id"], ids[-1], "offer-timeout", offer["expires_at"])
            await self.mark_paged(offer["specialist_id"], offer["offered_at"])
        return ids

    async def mark_paged(self, specialist_id, now):
        self.specialists[specialist_id]["last_paged_at"] = now

    async def get_specialist(self, specialist_id, *, lock=False):
        found = self.specialists.get(str(specialist_id))
        return _read(found) if found else None

    # --- cases ------------------------------------------------------------------------------------------

    async def open_case(self, visit, status, opened_at):
        if any((c["facility"], c["visit_number"]) == (visit.facility, visit.visit_number) for c in self.cases.values()):
            return None
        case_id = _new_id()
        self.cases[case_id] = {"id": case_id, "facility": visit.facility, "visit_number": visit.visit_number,
                               "status": status, "visit": visit.to_data(), "patient_hash": patient_hash(
                                   visit.patient_ref), "opened_at": opened_at, "specialist_id": None,
                               "preferences": None, "preferences_recorded_at": None, "closed_at": None,
                               "close_reason": None}
        return case_id

    async def get_case(self, case_id, *, lock=False):
        found = self.cases.get(str(case_id))
        return _read(found) if found else None

    async def set_case(self, case_id, **values):
        _update(self.cases, CASE_COLUMNS, case_id, values)

    async def case_of_visit(self, facility, visit_number):
        for case in self.cases.values():
            if (case["facility"], case["visit_number"]) == (facility, visit_number):
                return _read(case)
        return None

    async def replace_visit(self, case, visit):
        await self.set_case(case["id"], visit=visit.to_data(),
                            patient_hash=patient_hash(visit.patient_ref) or case["patient_hash"])

    async def set_preferences(self, case_id, preferences, at):
        await self.set_case(case_id, preferences=preferences, preferences_recorded_at=at)

    async def cases_of_specialist(self, specialist_id):
        return [_read(c) for c in sorted(self.cases.values(), key=lambda c: c["opened_at"])
                if c["specialist_id"] == str(specialist_id) and c["status"] == "assigned"]

    async def escalate_once(self, case_id, kind, facility, supervisor, reason, now):
        if (case_id, kind) in self.escalations:
            return False
        self.escalations[(case_id, kind)] = {"facility": facility, "supervisor": supervisor, "reason": reason,
                                             "escalated_at": now}
        return True

    async def add_touchpoints(self, case_id, plan):
        for t in plan:
            row = {"id": next(self._touchpoint_ids), "case_id": case_id, "kind": t.kind, "due_at": t.due_at,
                   "opens_at": t.opens_at, "closes_at": t.closes_at, "offset_hours": t.offset_hours,
                   "done_at": None, "outcome": None, "missed_at": None}
            self.touchpoint_rows.append(row)
            for kind, due in (("window-open", t.opens_at), ("window-closing", t.remind_at),
                              ("window-close", t.closes_at)):
                self.deadlines.append({"id": next(self._deadline_ids), "case_id": case_id, "assignment_id": None,
                                       "touchpoint_id": row["id"], "kind": kind, "due_at": due, "done_at": None,
                                       "outcome": None})

    async def cancel_touchpoints(self, case_id, outcome):
        for t in self.touchpoint_rows:
            if t["case_id"] == case_id and t["done_at"] is None and t["outcome"] is None:
                t["outcome"] = outcome
        for d in self.deadlines:
            if d["case_id"] == case_id and d.get("touchpoint_id") and d["done_at"] is None:
                d.update(done_at="cancelled", outcome=outcome)

    async def get_touchpoint(self, touchpoint_id, *, lock=False):
        return next((dict(t) for t in self.touchpoint_rows if t["id"] == touchpoint_id), None)

    async def window_reached(self, touchpoint_id, at):
        for t in self.touchpoint_rows:
            if t["id"] == touchpoint_id and (t["outcome"] in (None, "missed") or t["done_at"] > at):
                t.update(done_at=at, outcome="reached")

    async def window_missed(self, touchpoint_id, now):
        for t in self.touchpoint_rows:
            if t["id"] == touchpoint_id and t["outcome"] is None and t["done_at"] is None:
                t.update(outcome="missed", missed_at=now)
                return True
        return False

    async def touchpoints(self, case_id):
        return sorted((dict(t) for t in self.touchpoint_rows if t["case_id"] == case_id),
                      key=lambda t: (t["due_at"], t["id"]))

    # --- contacts ---------------------------------------------------------------------------------------

    async def record_contact(self, case_id, contact, who, touchpoint_id):
        contact_id = _new_id()
        self.contact_rows.append({"id": contact_id, "case_id": str(case_id), **copy.deepcopy(contact),
                                  "recorded_by": who, "touchpoint_id": touchpoint_id})
        return contact_id

    async def contact_at(self, case_id, at, outcome):
        same = [c for c in self.contact_rows if c["case_id"] == str(case_id) and c["at"] == at]
        # ORDER BY outcome = $3 DESC LIMIT 1 (sorted() is stable; among equals PostgreSQL returns any)
        found = sorted(same, key=lambda c: c["outcome"] != outcome)
        return {k: found[0][k] for k in ("id", "outcome", "learned", "treatment_type", "barc10")} if found else None

    async def contacts(self, case_id):
        """store.contacts (not a port: the case view reads it): the contact's fields, by time."""
        return [{k: c.get(k) for k in ("id", "at", "outcome", "touchpoint_id", "learned", "treatment_type", "barc10")}
                for c in sorted(self.contact_rows, key=lambda c: c["at"]) if c["case_id"] == str(case_id)]

    # --- assignments and deadlines ----------------------------------------------------------------------

    async def insert_assignment(self, *, status="offered", transfer_note=None, accepted_at=None, **row):
        assignment_id = _new_id()
        self.assignments[assignment_id] = {
            "id": assignment_id, "status": status, "transfer_note": transfer_note, "accepted_at": accepted_at,
            "declined_at": None, "decline_reason": None, "arrived_at": None, "closed_at": None, **copy.deepcopy(row)}
        return assignment_id

    async def get_assignment(self, assignment_id, *, lock=False):
        found = self.assignments.get(str(assignment_id))
        return _read(found) if found else None

    async def assignments_of_case(self, case_id):
        return sorted((_read(a) for a in self.assignments.values() if a["case_id"] == case_id),
                      key=lambda a: a["attempt"])

    async def set_assignment(self, assignment_id, **values):
        _update(self.assignments, ASSIGNMENT_COLUMNS, assignment_id, values)

    async def taken_assignment(self, case_id, specialist_id):
        taken = [a for a in self.assignments.values() if a["case_id"] == str(case_id)
                 and a["specialist_id"] == str(specialist_id) and a["status"] in ("accepted", "completed")]
        return max(taken, key=lambda a: a["attempt"])["id"] if taken else None

    async def offers_of_specialist(self, specialist_id):
        return [_read(a) for a in sorted(self.assignments.values(), key=lambda a: a["offered_at"])
                if a["specialist_id"] == str(specialist_id) and a["status"] == "offered"]

    async def any_arrived(self, case_id):
        return any(a["arrived_at"] is not None for a in self.assignments.values() if a["case_id"] == case_id)

    async def transition(self, assignment_id, *, old, new, **values):
        row = self.assignments[str(assignment_id)]
        if row["status"] not in old:
            return None
        unknown = set(values) - ASSIGNMENT_COLUMNS
        if unknown:
            raise LookupError(f"column(s) {sorted(unknown)} do not exist")
        row.update(copy.deepcopy(values), status=new)
        return _read(row)

    async def add_deadline(self, case_id, assignment_id, kind, due_at):
        if not any((d["assignment_id"], d["kind"]) == (assignment_id, kind) for d in self.deadlines):
            self.deadlines.append({"id": next(self._deadline_ids), "case_id": case_id, "assignment_id": assignment_id,
                                   "touchpoint_id": None, "kind": kind, "due_at": due_at, "done_at": None,
                                   "outcome": None})

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

    # --- consents and encounters ------------------------------------------------------------------------

    async def insert_consent(self, assignment_id, body, now):
        consent_id = _new_id()
        self.consents.append({"id": consent_id, "assignment_id": str(assignment_id), "granted": body["granted"],
                              "scope": body.get("scope"), "accepts_support": body["accepts_support"],
                              "contact_ok": body["contact_ok"], "recorded_at": now,
                              "recipients": body.get("recipients")})
        return consent_id

    async def latest_consent(self, assignment_id):
        mine = [c for c in self.consents if c["assignment_id"] == str(assignment_id)]
        if not mine:
            return None
        last = max(c["recorded_at"] for c in mine)
        latest = [c for c in mine if c["recorded_at"] == last]
        # ORDER BY recorded_at DESC LIMIT 1 leaves a tie to chance in PostgreSQL: a test must not rely on one.
        assert len(latest) == 1, "two consents of one assignment recorded at one instant: advance the clock"
        return {name: latest[0][name] for name in ("id", "granted", "scope", "accepts_support", "contact_ok",
                                                      "recipients")}

    async def encounter_started_at(self, assignment_id, started_at):
        for e in self.encounters:
            if e["assignment_id"] == str(assignment_id) and e["started_at"] == started_at:
                return {name: e[name] for name in ("id", "ended_at", "modality", "kind")}
        return None

    async def insert_encounter(self, assignment_id, body):
        encounter_id = _new_id()
        self.encounters.append({"id": encounter_id, "assignment_id": str(assignment_id),
                                "started_at": body["started_at"], "ended_at": body["ended_at"],
                                "modality": body["modality"], "kind": body["kind"],
                                "patient_at_home": body.get("patient_at_home"), "note": body.get("note")})
        return encounter_id


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
