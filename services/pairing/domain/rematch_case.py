"""Re-matching one open case (a supervisor's decision or the patient's request): hard constraints, the payer's
credential rule on the date of service, and what the patient asked for this time."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from services.contracts import Visit

from .credentials import payer_credentialed, payer_rule
from .matching import Evaluation, describe, evaluate, ranked
from .preferences import Preferences
from .programs import Program
from .roster import Roster

# Why a case is re-matched, by who asks: the patient (relayed by their peer or a supervisor) or a supervisor.
PATIENT_REASONS = ("mismatch", "prefers-other-gender", "prefers-other-pathway", "boundary-conflict")
SUPERVISOR_REASONS = ("supervisor-decision", "caseload-balance", "peer-boundary-concern", "peer-unavailable")


@dataclass(frozen=True)
class Ask:
    """What this re-match asks for beyond the case's stored preferences."""

    peer_gender: str | None = None
    pathway: str | None = None


class NoEligiblePeer(Exception):
    """Nobody passes every constraint; `explanation` says which constraint excluded how many peers."""

    def __init__(self, explanation: dict):
        super().__init__("no eligible peer")
        self.explanation = explanation


def _with(evaluation: Evaluation, extra: dict[str, np.ndarray]) -> Evaluation:
    checks = {**evaluation.constraints, **extra}
    eligible = np.logical_and.reduce(list(checks.values())) if len(evaluation.eligible) else evaluation.eligible
    return Evaluation(checks, eligible, evaluation.terms, evaluation.score)


def choose_for_case(roster: Roster, visit: Visit, program: Program, now: datetime, *, leaving: str | None,
                    recused: tuple[str, ...] = (), preferences: Preferences | None = None,
                    ask: Ask = Ask()) -> tuple[str, dict]:
    """The best peer for the case other than the one leaving it, with the explanation to store; NoEligiblePeer
    (with the count each constraint excluded) when there is none. The peer need not be on shift: re-matched work
    is follow-up, so serving the facility is enough, as in the batch re-match."""
    day = now.date()
    evaluation = evaluate(roster, visit, program, now, require_shift=False, recused=recused,
                          excluded=(leaving,) if leaving else (), preferences=preferences)
    rule = payer_rule(program, visit.payer.plan_id if visit.payer else None, day)
    extra = {"payer_credential": roster.memo(("payer", rule, day), lambda: payer_credentialed(roster, rule, day))}
    if ask.peer_gender:
        extra["asked_gender"] = roster.mask(roster.gender, ask.peer_gender)
    if ask.pathway:
        extra["asked_pathway"] = roster.mask(roster.pathways, ask.pathway)
    evaluation = _with(evaluation, extra)
    weights = dict(program.weights)
    explanation = {
        "considered": roster.n, "eligible": int(evaluation.eligible.sum()),
        "constraints": {name: {"failed": int((~mask).sum())} for name, mask in evaluation.constraints.items()},
        "payer_rule": ({"plan_id": rule.plan_id, "kinds": list(rule.kinds), "state": rule.state,
                        "date_of_service": day.isoformat()} if rule else None),
        "weights": weights,
    }
    best = ranked(evaluation, 4)
    if not best:
        raise NoEligiblePeer(explanation)
    explanation["chosen"] = describe(roster, evaluation, best[0], weights)
    explanation["runners_up"] = [describe(roster, evaluation, i, weights) for i in best[1:]]
    return roster.ids[best[0]], explanation
