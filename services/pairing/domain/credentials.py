"""Credentials: the payer's rendering-credential rule on the date of service, and renewal warnings (60 / 30 days)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable, Mapping

import numpy as np

from .programs import Program
from .roster import Roster


@dataclass(frozen=True)
class PayerRule:
    """The credential a payer accepts from the rendering peer: one of `kinds`, issued by `state` (None: any)."""

    plan_id: str
    kinds: tuple[str, ...]
    state: str | None


def payer_rule(program: Program, plan_id: str | None, day: date) -> PayerRule | None:
    """The plan's rule in effect on the date of service; None when the plan is unknown (no constraint)."""
    versions = program.payer_credentials.get(plan_id or "", ())
    in_effect = [v for v in versions if v["effective_from"] <= day]
    if not in_effect:
        return None
    rule = in_effect[-1]
    return PayerRule(plan_id or "", tuple(rule["kinds"]), rule.get("state"))


def payer_credentialed(roster: Roster, rule: PayerRule | None, day: date) -> np.ndarray:
    """Who holds, valid on `day`, a credential the payer accepts (everyone when there is no rule)."""
    if rule is None:
        return np.ones(roster.n, dtype=bool)
    ok = np.zeros(roster.n, dtype=bool)
    for (kind, state), expiry in roster.cert_state_expiry.items():
        if kind in rule.kinds and (rule.state is None or state == rule.state):
            ok |= expiry >= day.toordinal()
    return ok


@dataclass(frozen=True)
class Renewal:
    """A credential to renew: a certification that expires, or its continuing-education hours that fall due."""

    specialist_id: str
    credential: str  # certification, continuing-education
    kind: str
    due_on: date
    days_left: int
    threshold_days: int


def renewals(specialists: Iterable[tuple[str, Mapping]], today: date, thresholds: Iterable[int]) -> list[Renewal]:
    """Every certification expiring, and CE falling due, within the largest threshold (already late included);
    `threshold_days` is the smallest threshold the date has crossed (30 before 60)."""
    steps = sorted(set(thresholds))
    if not steps:
        return []
    found = []
    for specialist_id, data in specialists:
        for cert in data.get("certifications") or []:
            for credential, field_name in (("certification", "expires_on"), ("continuing-education", "ce_due_on")):
                raw = cert.get(field_name)
                if not raw:
                    continue
                due = raw if isinstance(raw, date) else date.fromisoformat(str(raw))
                left = (due - today).days
                crossed = [t for t in steps if left <= t]
                if crossed:
                    found.append(Renewal(specialist_id, credential, str(cert["kind"]), due, left, crossed[0]))
    return sorted(found, key=lambda r: (r.due_on, r.specialist_id, r.credential, r.kind))
