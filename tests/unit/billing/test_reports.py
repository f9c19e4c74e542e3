"""The month's claims as CSV: bounds of a month, and cells a spreadsheet would run as formulas shown as text."""
from datetime import date

import pytest

from services.billing.reports import COLUMNS, claims_csv, month_bounds

pytestmark = pytest.mark.unit


def test_a_month_runs_from_its_first_day_to_the_first_of_the_next():
    assert month_bounds("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    assert month_bounds("2027-02") == (date(2027, 2, 1), date(2027, 3, 1))


@pytest.mark.parametrize("bad", ["2026-13", "2026", "26-01", "2026-1", "２０２６-01", "9999-12", ""])
def test_anything_else_is_not_a_month(bad):
    with pytest.raises(ValueError):
        month_bounds(bad)


def test_a_formula_in_a_cell_is_shown_as_text():
    row = {c: None for c in COLUMNS} | {"claim_number": "=HYPERLINK(\"x\")", "visit_number": "-1+2", "units": 3}
    [_, line] = claims_csv([row]).splitlines()
    assert line.startswith("\"'=HYPERLINK(\"\"x\"\")\"") and ",'-1+2," in line and ",3," in line
