"""Re-matching a departing peer's open cases in one optimal batch (the assignment problem)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment

from services.contracts import Visit

from .credentials import payer_credentialed, payer_rule
from .matching import evaluate
from .preferences import Preferences
from .programs import Program
from .roster import Roster

INFEASIBLE = 1e6
SHORTLIST = 12


@dataclass
class OpenCase:
    """A case to move: its visit, the peer leaving it, who it must not go to, and what the patient asked for."""

    case_id: str
    visit: Visit
    leaving: str
    recused: tuple[str, ...] = ()
    preferences: Preferences | None = None


@dataclass
class Transfer:
    case_id: str
    specialist_id: str | None
    score: float | None
    explanation: dict = field(default_factory=dict)


def _pool(roster: Roster, cases: list[OpenCase]) -> np.ndarray:
    """Indices of the peers who could take any of the cases: active, with room, serving a case's facility."""
    facilities = {c.visit.facility for c in cases}
    leaving = [roster.index[c.leaving] for c in cases if c.leaving in roster.index]
    could = roster.active & (roster.load < roster.cap) & (roster.telehealth | roster.any_of(roster.serves, facilities))
    could[leaving] = False
    return np.flatnonzero(could)


def rematch(roster: Roster, cases: list[OpenCase], program_for: Callable[[str], Program],
            now: datetime, *, shortlist: int = SHORTLIST) -> list[Transfer]:
    """Each case's new peer (None when nobody eligible has room), maximising the total score of the batch.

    Each case keeps its best `shortlist` peers; the solver is exact over the union of those shortlists.
    """
    if not cases:
        return []
    roster = roster.subset(_pool(roster, cases))
    scores = np.full((len(cases), roster.n), -np.inf)
    load_weight = np.zeros(len(cases))
    for row, case in enumerate(cases):
        program = program_for(case.visit.facility)
        ev = evaluate(roster, case.visit, program, now, require_shift=False, recused=case.recused,
                      excluded=(case.leaving,), preferences=case.preferences)
        weights = dict(program.weights)
        # Scored without the load term, which depends on how many cases the batch gives the peer (below).
        load_weight[row] = weights.get("load", 0.0) / (sum(weights.values()) or 1.0)
        without_load = ev.score - load_weight[row] * ev.terms["load"]
        # The payer's rendering-credential rule on the date of service holds here too (domain/credentials.py).
        rule = payer_rule(program, case.visit.payer.plan_id if case.visit.payer else None, now.date())
        credentialed = roster.memo(("payer", rule, now.date()),
                                   lambda rule=rule: payer_credentialed(roster, rule, now.date()))
        scores[row] = np.where(ev.eligible & credentialed, without_load, -np.inf)
    k = min(shortlist, roster.n)
    best = np.argpartition(-scores, k - 1, axis=1)[:, :k] if roster.n else np.zeros((len(cases), 0), dtype=np.int64)
    best_finite = np.isfinite(np.take_along_axis(scores, best, axis=1))
    # How many shortlists each peer is on: more slots than that can never be used.
    wanted = np.bincount(best[best_finite], minlength=roster.n)
    columns = np.flatnonzero(wanted)
    free = np.minimum(np.clip(roster.cap[columns] - roster.load[columns], 0, None), wanted[columns])
    # One column per free caseload slot, so a peer with room for two can take two cases; the k-th extra
    # case of a peer counts with the load the peer would then carry.
    slot_owner = np.repeat(columns, free)
    slot_rank = np.concatenate([np.arange(f) for f in free]) if len(free) else np.zeros(0, dtype=np.int64)
    load_term = 1.0 - (roster.load[slot_owner] + slot_rank) / np.maximum(roster.cap[slot_owner], 1)
    total = scores[:, slot_owner] + load_weight[:, None] * load_term[None, :]
    cost = np.where(np.isfinite(total), -total, INFEASIBLE)
    rows, cols = linear_sum_assignment(cost)
    chosen = dict(zip(rows.tolist(), cols.tolist()))
    transfers = []
    for row, case in enumerate(cases):
        col = chosen.get(row)
        eligible = int(np.isfinite(scores[row]).sum())
        if col is None or cost[row, col] >= INFEASIBLE:
            transfers.append(Transfer(case.case_id, None, None, {"eligible": eligible}))
            continue
        transfers.append(Transfer(case.case_id, roster.ids[int(slot_owner[col])], round(float(-cost[row, col]), 4),
                                  {"eligible": eligible, "from_specialist_id": case.leaving,
                                   "batch_size": len(cases)}))
    return transfers
