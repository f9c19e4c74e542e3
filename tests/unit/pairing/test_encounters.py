"""A peer encounter's times: refused when in the future or longer than the facility's program allows."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.pairing.domain.encounters import EncounterRefused, check_times
from services.pairing.domain.programs import Programs
from tests.unit.pairing.builders import NOW

pytestmark = pytest.mark.unit
PROGRAMS = Programs.from_mapping({"defaults": {"max_encounter_minutes": 240},
                                  "facilities": {"LONG": {"max_encounter_minutes": 480}}})


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@pytest.mark.parametrize("started, ended", [(-60, -10), (-30, 0), (-30, 4), (-250, -10)])
def test_an_encounter_that_has_ended_within_the_limit_is_taken(started, ended):
    check_times(NOW + minutes(started), NOW + minutes(ended), NOW, PROGRAMS.for_facility("LONG"))


@pytest.mark.parametrize("started, ended, facility, says", [
    (10, 40, "F1", "in the future"),
    (-30, 6, "F1", "in the future"),
    (-250, -5, "F1", "at most 240 minutes"),
    (-500, -10, "LONG", "at most 480 minutes"),
])
def test_an_encounter_in_the_future_or_too_long_is_refused_naming_the_field(started, ended, facility, says):
    with pytest.raises(EncounterRefused) as info:
        check_times(NOW + minutes(started), NOW + minutes(ended), NOW, PROGRAMS.for_facility(facility))
    assert str(info.value).startswith("ended_at: ") and says in str(info.value)


def test_the_default_program_allows_four_hours():
    assert Programs.load().for_facility("ANY").max_encounter == timedelta(hours=4)
