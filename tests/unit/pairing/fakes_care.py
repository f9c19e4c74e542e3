"""An in-memory fake of store_care.CareStore (crisis hand-offs, re-matches, recusals), beside fakes.FakeStore."""
from __future__ import annotations

import copy
import uuid

from tests.unit.pairing.fakes import FakeStore


class FakeCareStore:
    """The care calls of the crisis and re-match use cases over dicts; recusals live in the FakeStore's set."""

    def __init__(self, store: FakeStore):
        self.store = store
        self.handoffs: dict[str, dict] = {}
        self.rematches: list[dict] = []

    async def open_handoff(self, case_id):
        found = [h for h in self.handoffs.values() if h["case_id"] == str(case_id) and h["outcome"] is None]
        return copy.deepcopy(found[0]) if found else None

    async def insert_handoff(self, case, *, raised_at, raised_by, route, contact):
        handoff_id = str(uuid.uuid4())
        self.handoffs[handoff_id] = {"id": handoff_id, "case_id": str(case["id"]), "facility": case["facility"],
                                     "visit_number": case["visit_number"], "raised_at": raised_at,
                                     "raised_by": raised_by, "route": route, "contact": contact,
                                     "handed_off_at": None, "outcome": None, "notes_code": None}
        return handoff_id

    async def get_handoff(self, handoff_id, *, lock=False):
        found = self.handoffs.get(str(handoff_id))
        return copy.deepcopy(found) if found else None

    async def set_handoff_outcome(self, handoff_id, *, outcome, handed_off_at, notes_code):
        self.handoffs[str(handoff_id)].update(outcome=outcome, handed_off_at=handed_off_at, notes_code=notes_code)

    async def latest_rematch(self, case_id):
        found = [r for r in self.rematches if r["case_id"] == str(case_id)]
        return copy.deepcopy(found[-1]) if found else None

    async def insert_rematch(self, **row):
        row = {**row, "id": str(uuid.uuid4()), "case_id": str(row["case_id"])}
        self.rematches.append(row)
        return row["id"]

    async def add_recusal(self, specialist_id, hashed):
        self.store.recusals.add((str(specialist_id), hashed))
