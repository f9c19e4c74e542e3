"""Builders for billing tests: an NJ ED visit and a 50-minute in-person encounter, as event data or as models."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from services.contracts import PeerEncounterCompleted, Visit

# The clock injected into pricing and export checks; every date below is a time of its day, so tests hold on any
# real date (`make test-future`).
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=timezone.utc)


def at(hour: int, minute: int = 0) -> str:
    """A time of NOW's day, as the events write it."""
    return NOW.replace(hour=hour, minute=minute).isoformat()


def make_visit(**overrides) -> dict:
    visit = {"facility": "NEWARK", "visit_number": "V1", "arrived_at": at(10),
             "peer_indicated": True, "indications": [], "age_years": 34, "diagnoses": ["T401X1A", "F1120"],
             "payer": {"plan_id": "NJMCD", "member_id": "M123"}}
    return {**visit, **overrides}


def make_encounter(**overrides) -> dict:
    encounter = {"encounter_id": str(uuid.uuid4()), "facility": "NEWARK", "visit_number": "V1",
                 "specialist_id": str(uuid.uuid4()), "specialist_npi": "1987654328",
                 "started_at": at(10, 20), "ended_at": at(11, 10), "minutes": 50,
                 "modality": "in-person", "kind": "individual",
                 "credentials": [{"kind": "CPRS", "state": "NJ", "expires_on": "2030-01-01"}]}
    return {**encounter, **overrides}


def build_visit(**overrides) -> Visit:
    """The visit as the model pricing reads (validated strictly, so a test's typo fails)."""
    return Visit.model_validate(make_visit(**overrides))


def build_encounter(**overrides) -> PeerEncounterCompleted:
    """The encounter as the model pricing reads."""
    return PeerEncounterCompleted.model_validate(make_encounter(**overrides))


# The builders' ED, as billing registers it for loop 2310C (POST /facilities).
FACILITY = {"name": "Newark General Emergency Department", "npi": "1245319599", "address": "201 Lyons Avenue",
            "city": "Newark", "state": "NJ", "zip": "071122027"}
