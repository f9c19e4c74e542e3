"""Benchmark of the outcome figures (pure): a year of a large program, computed overall and per month.

Run: .venv/bin/python bench/pairing_outcomes.py   (target: a year of 20,000 indicated visits in <= 1 s of CPU; the
SQL that reads them is measured by the route's tests, not here)
"""
from __future__ import annotations

import os
import random
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.pairing.domain.outcome_measures import program_measures  # noqa: E402
from services.pairing.domain.outcomes import CaseFacts, Contact, Window  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
LEARNED = ["entered-treatment", "moud-started", "housing-linkage", "recurrence-of-use"]


def case(rng: random.Random, n: int) -> CaseFacts:
    opened = START + timedelta(minutes=rng.randrange(365 * 24 * 60))
    offer = opened + timedelta(minutes=rng.random() * 3) if rng.random() < 0.95 else None
    accept = offer + timedelta(minutes=rng.random() * 12) if offer and rng.random() < 0.8 else None
    bedside = accept + timedelta(minutes=rng.random() * 90) if accept and rng.random() < 0.9 else None
    enrolled = bedside is not None and rng.random() < 0.7
    windows = tuple(Window(d * 24, "follow-up", None, rng.choice(["reached", "missed", None]))
                    for d in (3, 7, 30, 60, 90)) if enrolled else ()
    contacts = tuple(Contact(opened + timedelta(days=rng.random() * 90), "reached",
                             tuple(rng.sample(LEARNED, rng.randrange(3)))) for _ in range(rng.randrange(5)))
    return CaseFacts(str(n), f"F{n % 20:02d}", opened, 60, first_offer=offer, first_accept=accept,
                     first_bedside=bedside, consent_granted=bedside is not None and rng.random() < 0.8,
                     accepts_support=enrolled, windows=windows, contacts=contacts)


def main() -> None:
    rng = random.Random(14)
    cases = [case(rng, n) for n in range(20_000)]
    as_of = START + timedelta(days=400)
    runs = []
    for _ in range(5):
        wall, cpu = time.perf_counter(), time.process_time()
        program_measures(cases, as_of)
        months = defaultdict(list)
        for c in cases:
            months[c.opened_at.strftime("%Y-%m")].append(c)
        for group in months.values():
            program_measures(group, as_of)
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    walls, cpus = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
    print(f"outcomes: {len(cases)} indicated visits, overall + 12 months, 21 figures each")
    print(f"wall median {walls[2] * 1000:.0f} ms, worst {walls[-1] * 1000:.0f} ms of 5 runs; CPU median"
          f" {cpus[2] * 1000:.0f} ms (target <= 1000 ms)")
    print(f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
