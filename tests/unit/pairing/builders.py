"""Builders for pairing tests: valid NPIs, roster entries, visits (as data and as models)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from services.contracts import Visit, parse
from services.pairing.domain.roster import RosterEntry
from services.pairing.domain.shifts import Window
from tests.support.ids import random_npi

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=timezone.utc)
npi = random_npi
# Ten years after NOW, not after the day the tests run.
CERTIFIED_UNTIL = (NOW.date() + timedelta(days=3650)).isoformat()


def peer(specialist_id: str, facility: str = "F1", **overrides) -> dict:
    """A specialist record that passes every hard constraint for a visit at `facility` now."""
    data = {"name": f"Peer {specialist_id}", "npi": npi(), "gender": "female", "birth_year": 1985,
            "languages": ["en", "es"], "facilities": [facility],
            "certifications": [{"kind": "CPRS", "number": "N1", "state": "NJ", "expires_on": CERTIFIED_UNTIL}],
            "recovery_since": "2015-01-01", "lived_experience": ["opioids"], "pathways": ["MOUD-supportive"],
            "race": [], "ethnicity": [], "telehealth": False, "caseload_cap": 8, "status": "active"}
    data.update(overrides)
    return data


def entry(specialist_id: str, facility: str = "F1", *, load: int = 0, last_paged_at=None,
          shifts: list[Window] | None = None, **overrides) -> RosterEntry:
    """A roster entry on shift at `facility` around NOW unless told otherwise."""
    if shifts is None:
        shifts = [Window(facility, NOW - timedelta(hours=1), NOW + timedelta(hours=7))]
    return RosterEntry.from_record(specialist_id, peer(specialist_id, facility, **overrides), load=load,
                                   last_paged_at=last_paged_at, shifts=shifts)


def visit_data(facility: str = "F1", **overrides) -> dict:
    """A visit's event data, as intake sends it and pairing stores it."""
    data = {"facility": facility, "visit_number": "V1", "arrived_at": (NOW - timedelta(hours=1)).isoformat(),
            "peer_indicated": True, "diagnoses": ["T401X1A"], "language": "en", "gender": "female",
            "age_years": 40, "indications": [{"kind": "diagnosis", "code": "T401X1A", "reason": "opioid poisoning",
                                              "category": "opioid-poisoning", "substance": "opioids"}]}
    data.update(overrides)
    return data


def visit(facility: str = "F1", **overrides) -> Visit:
    """A visit as matching reads it: the stored data parsed into its model."""
    return parse(Visit, visit_data(facility, **overrides))


def today() -> date:
    return NOW.date()
