"""The program's measures and the per-peer measures, each with the definition the README's table repeats."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from .outcomes import (TIMES, CaseFacts, Definition, Measure, count, engaged, learned_within, mature, median,
                       minutes, p90, retained, share, still_in_ed, within)

D = Definition
INDICATED = D("indicated", "Indicated visits", "ED visits for which intake indicated peer support (cases opened by "
              "pairing) in the period, by the time the case opened.")
OFFERED = D("offered", "Offered", "Indicated visits offered to at least one peer (a supervisor's assignment or a "
            "re-match is no offer), over indicated visits.")
ACCEPTED = D("accepted", "Accepted", "Indicated visits a peer accepted (or a supervisor assigned), over indicated "
             "visits.")
BEDSIDE = D("seen-at-bedside", "Seen at the bedside", "Indicated visits where a peer reported arriving at the "
            "bedside, over indicated visits.")
WITHIN_ALL = D("seen-within-target", "Seen within target (all indicated visits)", "Indicated visits where a peer "
               "arrived within the program's arrival target (default 60 min) of the case opening, over ALL indicated "
               "visits: a visit nobody reached counts against the figure.")
WITHIN_ED = D("seen-within-target-in-ed", "Seen within target (patient still in the ED)", "The same numerator over "
              "indicated visits where the patient was still in the ED when the target ran out: visits closed as "
              "discharged before a peer arrived, or cancelled, before the target are left out.")
CONSENT = D("consent-rate", "Consent rate", "Visits seen at the bedside whose latest consent was granted, over visits "
            "seen at the bedside.")
ENROLLED = D("enrolled", "Enrolled", "Indicated visits whose patient accepted peer support (latest consent "
             "accepts_support), over indicated visits.")
RETENTION = D("retention-90d", "Retention at 90 days", "Enrolled patients still in the program 90 days after the case "
              "opened (case open then, or closed as completed), over enrolled patients whose case opened at least "
              "90 days before the report.")
TREATMENT = D("entered-treatment-30d", "Entered treatment within 30 days", "Enrolled patients with a reached contact "
              "coding entered-treatment within 30 days of the case opening, over enrolled patients whose case opened "
              "at least 30 days before the report.")
MOUD = D("moud-30d", "MOUD within 30 days", "Enrolled patients with a reached contact coding moud-started or "
         "moud-continued within 30 days of the case opening, over enrolled patients whose case opened at least 30 "
         "days before the report.")
CRISIS = D("crisis-handoffs", "Crisis hand-offs", "Crisis hand-offs recorded (pairing.crisis_handoffs) for the "
           "period's indicated visits.")


def engaged_definition(days: int) -> Definition:
    return D(f"engaged-{days}d", f"Engaged at {days} days", f"Enrolled patients reached by their peer within the "
             f"follow-up window at {days} days, over enrolled patients whose {days}-day window has closed (or who "
             f"were reached in it) by the report.")


def time_definition(key: str, what: str, stat: str) -> Definition:
    name = "median" if stat == "median" else "90th percentile (nearest rank)"
    return D(f"time-to-{key}-{stat}", f"Time to {what} ({stat})", f"The {name} of minutes from the case opening to "
             f"the {what}, over indicated visits that reached it.", unit="min")


def program_measures(cases: Sequence[CaseFacts], as_of: datetime, *, crisis_note: str | None = None) -> list[Measure]:
    """Every program figure over these indicated visits, as known at `as_of`."""
    n = len(cases)
    seen = [c for c in cases if c.first_bedside is not None]
    in_ed = [c for c in cases if still_in_ed(c)]
    enrolled = [c for c in cases if c.accepts_support]
    found = [count(INDICATED, n, "visits"),
             share(OFFERED, sum(c.first_offer is not None for c in cases), n),
             share(ACCEPTED, sum(c.first_accept is not None for c in cases), n),
             share(BEDSIDE, len(seen), n),
             share(WITHIN_ALL, sum(within(c) for c in cases), n),
             share(WITHIN_ED, sum(within(c) for c in in_ed), len(in_ed))]
    for key, what, timer in TIMES:
        values = [minutes(timer(c), c.opened_at) for c in cases if timer(c) is not None]
        for stat, fn in (("median", median), ("p90", p90)):
            d = time_definition(key, what, stat)
            found.append(Measure(d.id, d.label, d.definition, None, len(values), fn(values), "min"))
    found += [share(CONSENT, sum(bool(c.consent_granted) for c in seen), len(seen)),
              share(ENROLLED, len(enrolled), n)]
    for days in (30, 60, 90):
        known = [e for e in (engaged(c, days) for c in enrolled) if e is not None]
        found.append(share(engaged_definition(days), sum(known), len(known)))
    ripe90 = [c for c in enrolled if mature(c, as_of, 90)]
    ripe30 = [c for c in enrolled if mature(c, as_of, 30)]
    found += [share(RETENTION, sum(retained(c) for c in ripe90), len(ripe90)),
              share(TREATMENT, sum(learned_within(c, ("entered-treatment",), 30) for c in ripe30), len(ripe30)),
              share(MOUD, sum(learned_within(c, ("moud-started", "moud-continued"), 30) for c in ripe30), len(ripe30)),
              count(CRISIS, sum(c.crisis_handoffs for c in cases), "hand-offs", crisis_note)]
    return found


@dataclass(frozen=True)
class PeerFacts:
    """What the record says about one peer in the period."""

    specialist_id: str
    offers: int
    accepted: int
    at_bedside: int
    within_target: int
    cases: int
    caseload: int
    supervision_minutes: float
    required_hours: float


PEER_OFFERS = D("peer-offers", "Offers", "Offers made to the peer for the period's indicated visits (cases handed "
                "over by a supervisor or a re-match are no offers).")
PEER_ACCEPTED = D("peer-accepted", "Offers accepted", "Offers the peer accepted, over offers made to them.")
PEER_BEDSIDE = D("peer-seen-within-target", "Seen within target", "Of the peer's accepted offers, those where they "
                 "reached the bedside within the program's arrival target of the case opening.")
PEER_CASES = D("peer-cases", "Cases", "Cases the peer took among the period's indicated visits: accepted, assigned by "
               "a supervisor, or handed over by a re-match.")
PEER_CASELOAD = D("peer-caseload", "Caseload", "Open cases the peer holds at the time of the report.")
SUPERVISION = D("supervision-hours", "Supervision hours against requirement", "Hours of supervision sessions "
                "(pairing.supervision_sessions) held in the period, over the hours the program requires for the "
                "period (supervision_hours per started supervision_period_days, the strictest of the peer's "
                "facilities); the value is the share of the requirement met.")


def peer_measures(p: PeerFacts, *, supervision_note: str | None = None) -> list[Measure]:
    hours = round(p.supervision_minutes / 60, 2)
    required = round(p.required_hours, 2)
    return [count(PEER_OFFERS, p.offers, "offers"), share(PEER_ACCEPTED, p.accepted, p.offers),
            share(PEER_BEDSIDE, p.within_target, p.accepted), count(PEER_CASES, p.cases, "cases"),
            count(PEER_CASELOAD, p.caseload, "cases"),
            Measure(SUPERVISION.id, SUPERVISION.label, SUPERVISION.definition, hours, required,
                    round(100 * hours / required, 1) if required else None, "%", supervision_note)]


ALL_PROGRAM = [INDICATED, OFFERED, ACCEPTED, BEDSIDE, WITHIN_ALL, WITHIN_ED] + [
    time_definition(k, w, s) for k, w, _ in TIMES for s in ("median", "p90")] + [
    CONSENT, ENROLLED, *(engaged_definition(d) for d in (30, 60, 90)), RETENTION, TREATMENT, MOUD, CRISIS]
ALL_PEER = [PEER_OFFERS, PEER_ACCEPTED, PEER_BEDSIDE, PEER_CASES, PEER_CASELOAD, SUPERVISION]
