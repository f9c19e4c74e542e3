"""The outcomes report: the record read for a facility and period, computed overall and per group (facility, month,
peer), as JSON-ready dicts, CSV rows or a FHIR MeasureReport."""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime

from . import store_outcomes as so
from .domain.outcome_measures import PeerFacts, peer_measures, program_measures
from .domain.outcomes import CaseFacts, within
from .domain.programs import Programs
from .domain.supervision import requirement

GROUPS = ("none", "facility", "month", "peer")
NO_CRISIS_TABLE = "pairing.crisis_handoffs does not exist on this deployment: reported as 0"
NO_SUPERVISION_TABLE = "pairing.supervision_sessions does not exist on this deployment: 0 hours reported"


async def report(conn, programs: Programs, *, start: datetime, end: datetime, facility: str | None,
                 group_by: str, as_of: datetime) -> dict:
    """Every figure for the period (cases opened in [start, end)), overall and per group, each with its definition."""
    def target(facility_id: str) -> float:
        return programs.for_facility(facility_id).arrival_target_minutes

    cases, crisis_table = await so.case_facts(conn, start, end, facility, target)
    note = None if crisis_table else NO_CRISIS_TABLE
    body = {"facility": facility, "from": start.isoformat(), "to": end.isoformat(), "group_by": group_by,
            "as_of": as_of.isoformat(),
            "measures": [m.as_json() for m in program_measures(cases, as_of, crisis_note=note)], "groups": []}
    if group_by in ("facility", "month"):
        split = defaultdict(list)
        for c in cases:
            split[c.facility if group_by == "facility" else c.opened_at.strftime("%Y-%m")].append(c)
        body["groups"] = [{"key": {("facility" if group_by == "facility" else "month"): key},
                           "measures": [m.as_json() for m in program_measures(split[key], as_of, crisis_note=note)]}
                          for key in sorted(split)]
    elif group_by == "peer":
        body["groups"] = await peer_groups(conn, programs, start, end, facility, target)
    return body


async def peer_groups(conn, programs: Programs, start, end, facility, target) -> list[dict]:
    """Per peer: offers, acceptances, arrivals within target, cases, caseload, supervision against requirement."""
    offers = await so.peer_rows(conn, start, end, facility)
    loads = await so.caseloads(conn)
    supervision = await so.supervision_minutes(conn, start, end)
    days = (end - start).total_seconds() / 86400
    per_peer: dict[str, list[dict]] = defaultdict(list)
    for row in offers:
        per_peer[row["specialist_id"]].append(row)
    people = {p["id"]: p for p in await so.specialists(conn, facility)}
    groups = []
    for specialist_id in list(people) + [s for s in per_peer if s not in people]:
        rows = per_peer.get(specialist_id, [])
        offers = [r for r in rows if not r["handed_over"]]
        taken_offers = [r for r in offers if r["accepted_at"] is not None]
        taken = [r for r in rows if r["accepted_at"] is not None]
        facilities = people.get(specialist_id, {}).get("facilities") or []
        # The strictest requirement of the peer's facilities, per started period of the requirement.
        hours, period_days = requirement([programs.for_facility(f) for f in facilities or [facility or "*"]])
        facts = PeerFacts(
            specialist_id=specialist_id, offers=len(offers), accepted=len(taken_offers),
            at_bedside=sum(r["arrived_at"] is not None for r in taken_offers),
            within_target=sum(_within(r, target) for r in taken_offers), cases=len({r["case_id"] for r in taken}),
            caseload=loads.get(specialist_id, 0),
            supervision_minutes=(supervision or {}).get(specialist_id, 0.0),
            required_hours=hours * max(1, math.ceil(days / max(period_days, 1))))
        note = NO_SUPERVISION_TABLE if supervision is None else None
        groups.append({"key": {"specialist_id": specialist_id},
                       "measures": [m.as_json() for m in peer_measures(facts, supervision_note=note)]})
    return groups


def _within(row: dict, target) -> bool:
    return within(CaseFacts("", row["facility"], row["opened_at"], target(row["facility"]),
                            first_bedside=row["arrived_at"]))


CSV_COLUMNS = ("group", "id", "label", "numerator", "denominator", "value", "unit", "definition")


def csv_rows(body: dict) -> list[list]:
    """One row per figure: overall first (group 'all'), then each group's, named key=value."""
    rows = [["all", *(m[c] for c in CSV_COLUMNS[1:])] for m in body["measures"]]
    for g in body["groups"]:
        name = ";".join(f"{k}={v}" for k, v in g["key"].items())
        rows += [[name, *(m[c] for c in CSV_COLUMNS[1:])] for m in g["measures"]]
    return rows
