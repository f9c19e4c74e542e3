"""A fetch is applied in as few transactions as the cap allows, of near-equal sizes, its records' order kept."""
from __future__ import annotations

import pytest

from services.runtime.consumer import portions

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("count, most, sizes", [
    (0, 50, []), (1, 50, [1]), (50, 50, [50]), (51, 50, [26, 25]), (120, 50, [40, 40, 40]),
    (200, 50, [50, 50, 50, 50]), (7, 1, [1] * 7)])
def test_a_fetch_is_cut_into_few_near_equal_parts_in_order(count, most, sizes):
    parts = portions(list(range(count)), most)
    assert [len(p) for p in parts] == sizes
    assert [r for p in parts for r in p] == list(range(count))
