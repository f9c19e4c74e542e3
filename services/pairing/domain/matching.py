"""Which peer to offer a visit to: hard constraints, then a weighted soft score, with the explanation stored."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

import numpy as np

from services.contracts import Visit

from .preferences import Preferences
from .programs import Program
from .roster import Roster, primary_language, shared_culture

SUBSTANCES = ("opioids", "alcohol", "stimulants", "cannabis", "sedatives", "polysubstance")
AGE_SPAN_YEARS = 30.0
FAIRNESS_HOURS = 24.0


@dataclass(frozen=True)
class VisitNeeds:
    """What matching reads from a visit and the patient's preferences (no identifiers beyond the facility)."""

    facility: str
    language: str | None
    gender: str | None
    age_years: int | None
    substances: frozenset[str]
    categories: frozenset[str]
    culture: frozenset[str]
    preferred_pathways: tuple[str, ...]
    same_gender: bool = False

    @property
    def opioid_related(self) -> bool:
        return "opioids" in self.substances or any("opioid" in c for c in self.categories)

    @property
    def needs_language(self) -> str | None:
        """A language the peer must speak: the patient's, when it is not English."""
        return self.language if self.language not in (None, "en") else None

    @classmethod
    def of(cls, visit: Visit, program: Program, preferences: Preferences | None = None) -> "VisitNeeds":
        """The visit's needs; the patient's own preferences, once recorded, come before what the feed said."""
        indications = visit.indications
        categories = frozenset(i.category for i in indications if i.category)
        prefs = preferences or Preferences()
        preferred = list(dict.fromkeys(prefs.pathways))
        for category in sorted(categories):
            preferred += [p for p in program.preferred_pathways.get(category, ()) if p not in preferred]
        gender = visit.gender if visit.gender in ("male", "female", "other") else None
        return cls(facility=visit.facility, language=primary_language(prefs.language or visit.language),
                   gender=gender, age_years=visit.age_years,
                   substances=frozenset(i.substance for i in indications if i.substance in SUBSTANCES),
                   categories=categories,
                   culture=shared_culture([*(visit.race or ()), *(visit.ethnicity or ())]),
                   preferred_pathways=tuple(preferred), same_gender=prefs.same_gender_peer and gender is not None)


@dataclass
class Evaluation:
    """Per-specialist results of one visit: constraint masks, score terms and the weighted score."""

    constraints: dict[str, np.ndarray]
    eligible: np.ndarray
    terms: dict[str, np.ndarray]
    score: np.ndarray


def _certified(roster: Roster, kinds: tuple[str, ...], today: int) -> np.ndarray:
    """Who holds a certification of an accepted kind that is still valid today."""
    certified = np.zeros(roster.n, dtype=bool)
    for kind in kinds:
        expiry = roster.cert_expiry.get(kind)
        if expiry is not None:
            certified |= expiry >= today
    return certified


def constraints(roster: Roster, needs: VisitNeeds, program: Program, now: datetime, *, require_shift: bool,
                recused: Iterable[str] = (), excluded: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Every hard constraint as a boolean column (True: the specialist passes)."""
    today = now.date().toordinal()
    certified = roster.memo(("certified", program.accepted_certifications, today),
                            lambda: _certified(roster, program.accepted_certifications, today))
    cutoff = today - round(365.25 * program.min_recovery_years)
    if require_shift:
        reachable = roster.on_shift(needs.facility, now)
        if program.telehealth_substitutes:
            reachable |= roster.telehealth & roster.on_shift(None, now)
    else:
        # Follow-up work (re-matching) happens after the ED: the peer must serve the facility, not be on shift.
        reachable = roster.mask(roster.serves, needs.facility) | roster.telehealth
    available = np.ones(roster.n, dtype=bool)
    for specialist_id in (*recused, *excluded):
        if specialist_id in roster.index:
            available[roster.index[specialist_id]] = False
    language = needs.needs_language
    return {
        "active": roster.active,
        "certified": certified,
        "time_in_recovery": roster.memo(("recovery", cutoff), lambda: roster.recovery_since <= cutoff),
        "on_shift" if require_shift else "serves_facility": reachable,
        "under_caseload_cap": roster.load < roster.cap,
        "speaks_language": roster.mask(roster.speaks, language) if language else np.ones(roster.n, dtype=bool),
        "same_gender": (roster.mask(roster.gender, needs.gender) if needs.same_gender
                        else np.ones(roster.n, dtype=bool)),
        "not_recused": available,
        "moud_supportive": (roster.mask(roster.pathways, "MOUD-supportive") if needs.opioid_related
                            else np.ones(roster.n, dtype=bool)),
    }


def score_terms(roster: Roster, needs: VisitNeeds, now: datetime) -> dict[str, np.ndarray]:
    """Every soft-score term in [0, 1] per specialist."""
    n = roster.n
    half = np.full(n, 0.5)
    language = needs.language or "en"
    terms = {"language": np.where(roster.mask(roster.first_language, language), 1.0,
                                  np.where(roster.mask(roster.speaks, language), 0.5, 0.0))}
    terms["gender"] = roster.mask(roster.gender, needs.gender).astype(float) if needs.gender else half
    if needs.age_years is not None:
        gap = np.abs((now.year - roster.birth_year) - needs.age_years)
        terms["age"] = np.where(np.isnan(gap), 0.5, 1.0 - np.minimum(gap, AGE_SPAN_YEARS) / AGE_SPAN_YEARS)
    else:
        terms["age"] = half
    same = roster.any_of(roster.lived, needs.substances - {"polysubstance"})
    if "polysubstance" in needs.substances:
        same |= roster.any_of(roster.lived, SUBSTANCES)
    terms["lived_experience"] = np.where(same, 1.0, np.where(roster.mask(roster.lived, "polysubstance")
                                                            & bool(needs.substances), 0.5, 0.0))
    # The share of the preferred pathways the peer follows (the patient's own, when recorded, are listed first).
    preferred = needs.preferred_pathways
    terms["pathway"] = (sum(roster.mask(roster.pathways, p).astype(float) for p in preferred) / len(preferred)
                        if preferred else np.zeros(n))
    terms["culture"] = roster.any_of(roster.culture, needs.culture).astype(float)
    terms["load"] = roster.memo("load", lambda: np.where(
        roster.cap > 0, 1.0 - roster.load / np.maximum(roster.cap, 1), 0.0).clip(0, 1))
    terms["fairness"] = roster.memo(("fairness", now), lambda: np.minimum(
        (now.timestamp() - roster.last_paged) / 3600.0, FAIRNESS_HOURS).clip(0) / FAIRNESS_HOURS)
    return terms


def weighted(terms: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    total = sum(weights.values()) or 1.0
    vector = np.array([weights.get(name, 0.0) for name in terms]) / total
    # One matrix-vector product instead of a multiply and an add per term (re-matching calls this per case).
    return vector @ np.vstack(list(terms.values()))


def evaluate(roster: Roster, visit: Visit, program: Program, now: datetime, *, require_shift: bool = True,
             recused: Iterable[str] = (), excluded: Iterable[str] = (),
             preferences: Preferences | None = None) -> Evaluation:
    """Constraints and score of every specialist on the roster for one visit (and its patient's preferences)."""
    needs = VisitNeeds.of(visit, program, preferences)
    checks = constraints(roster, needs, program, now, require_shift=require_shift, recused=recused,
                         excluded=excluded)
    eligible = np.logical_and.reduce(list(checks.values())) if roster.n else np.zeros(0, dtype=bool)
    terms = score_terms(roster, needs, now)
    return Evaluation(checks, eligible, terms, weighted(terms, dict(program.weights)))


def ranked(evaluation: Evaluation, limit: int) -> list[int]:
    """Indices of the best eligible specialists, best first; ties go to the roster order."""
    candidates = np.flatnonzero(evaluation.eligible)
    if len(candidates) > limit:
        scores = evaluation.score[candidates]
        top = np.argpartition(-scores, limit - 1)[:limit]
        candidates = candidates[top]
    order = np.lexsort((candidates, -evaluation.score[candidates]))
    return [int(i) for i in candidates[order]]


def describe(roster: Roster, evaluation: Evaluation, i: int, weights: dict[str, float]) -> dict:
    return {"specialist_id": roster.ids[i], "score": round(float(evaluation.score[i]), 4),
            "terms": {name: {"value": round(float(col[i]), 4), "weight": weights.get(name, 0.0)}
                      for name, col in evaluation.terms.items()}}


def choose(roster: Roster, visit: Visit, program: Program, now: datetime, *, runners_up: int = 3,
           **kwargs) -> tuple[str | None, dict]:
    """The specialist to offer the visit to (None when nobody is eligible) and the explanation to store."""
    evaluation = evaluate(roster, visit, program, now, **kwargs)
    best = ranked(evaluation, runners_up + 1)
    weights = dict(program.weights)
    explanation = {
        "considered": roster.n, "eligible": int(evaluation.eligible.sum()),
        "constraints": {name: {"failed": int((~mask).sum())} for name, mask in evaluation.constraints.items()},
        "weights": weights,
        "chosen": describe(roster, evaluation, best[0], weights) if best else None,
        "runners_up": [describe(roster, evaluation, i, weights) for i in best[1:]],
    }
    return (roster.ids[best[0]] if best else None), explanation
