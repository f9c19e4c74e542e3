"""Intake's subscriber answer: complete for loop 2010BA, or the names (never values) of what is missing."""
from datetime import date

import pytest

from services.billing.domain.subscriber import Subscriber, from_intake
from tests.unit.billing.test_x12 import INTAKE_ANSWER

pytestmark = pytest.mark.unit


def test_a_complete_answer_becomes_the_subscriber():
    sub = from_intake(INTAKE_ANSWER)
    assert isinstance(sub, Subscriber)
    assert (sub.birth_date, sub.gender, sub.state, sub.postal_code) == (date(1985, 3, 7), "F", "NJ", "071021234")


@pytest.mark.parametrize(("change", "missing"), [
    ({"last_name": None}, ["last name"]),
    ({"first_name": "  "}, ["first name"]),
    ({"birth_date": None}, ["birth date"]),
    ({"birth_date": "1985-13-40"}, ["birth date"]),
    ({"address": {"line1": None, "city": "Newark", "state": "NJ", "postal_code": "07102"}}, ["address line"]),
    ({"address": {"line1": "1 A St", "city": None, "state": "New Jersey", "postal_code": "0710"}},
     ["city", "state", "postal code"]),
    ({"address": None}, ["address line", "city", "state", "postal code"]),
])
def test_an_incomplete_answer_names_what_is_missing_without_values(change, missing):
    assert from_intake({**INTAKE_ANSWER, **change}) == missing


def test_a_visit_intake_does_not_know():
    assert from_intake(None) == ["visit unknown to intake"]
