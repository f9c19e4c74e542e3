"""The outcomes page's pieces: the period, its weeks, figures in words, the SVG charts and each chart's CSV rows."""
from __future__ import annotations

from datetime import date

import pytest

from services.console.domain import charts
from services.console.domain import outcome_charts as oc

pytestmark = pytest.mark.unit
TODAY = date(2031, 3, 9)  # arbitrary: the logic takes the day


def test_the_period_defaults_to_this_calendar_month_and_refuses_nonsense():
    assert oc.period(TODAY, None, None) == (date(2031, 3, 1), date(2031, 4, 1))
    assert oc.period(date(2031, 12, 31), None, None) == (date(2031, 12, 1), date(2032, 1, 1))
    assert oc.period(TODAY, "2031-01-05", "2031-02-01") == (date(2031, 1, 5), date(2031, 2, 1))
    assert oc.period(TODAY, "2031-02-01", "2031-01-05") == (date(2031, 3, 1), date(2031, 4, 1))
    assert oc.period(TODAY, "soon", None) == (date(2031, 3, 1), date(2031, 4, 1))


def test_weeks_run_monday_to_monday_clipped_to_the_period():
    found = oc.weeks(date(2031, 3, 1), date(2031, 4, 1))
    assert found[0] == (date(2031, 3, 1), date(2031, 3, 3)) and found[1] == (date(2031, 3, 3), date(2031, 3, 10))
    assert found[-1] == (date(2031, 3, 31), date(2031, 4, 1)) and len(found) == 6
    assert len(oc.weeks(date(2030, 1, 1), date(2031, 1, 1))) == 14


def test_figures_read_as_on_the_page():
    assert oc.figure({"value": 57.1, "unit": "%"}) == "57.1 %"
    assert oc.figure({"value": 50.0, "unit": "%"}) == "50 %"
    assert oc.figure({"value": 12.5, "unit": "min"}) == "12.5 min"
    assert oc.figure({"value": 9, "unit": "visits"}) == "9 visits"
    assert oc.figure({"value": None, "unit": "%"}) == oc.figure(None) == "no data"
    assert oc.share_of({"numerator": 4, "denominator": 7, "unit": "%"}) == "4 of 7"
    assert oc.share_of({"numerator": None, "denominator": 3, "unit": "min"}) == ""


def test_a_chart_is_an_accessible_svg_with_each_value_written_and_a_target_line():
    svg = charts.bars("Seen <in time>", [("Week 1", 50.0), ("Week 2", None)], "%", top=100, target=60)
    assert svg.startswith("<svg") and 'role="img"' in svg and "<title>Seen &lt;in time&gt;</title>" in svg
    assert "50 %" in svg and "no data" in svg and "target 60 %" in svg and "stroke-dasharray" in svg


def test_each_chart_takes_its_figures_from_pairings_answer_and_writes_them_as_csv():
    body = {"measures": [{"id": "offered", "label": "Offered", "numerator": 2, "denominator": 2, "value": 100.0,
                          "unit": "%", "definition": "d"},
                         {"id": "accepted", "label": "Accepted", "numerator": 1, "denominator": 2, "value": 50.0,
                          "unit": "%", "definition": "d"}]}
    measures = oc.by_id(body)
    reach = oc.CHARTS[0]
    assert "100 %" in oc.svg(reach, measures) and "no data" in oc.svg(reach, measures)  # missing ones say so
    assert oc.csv_rows(reach.measures, measures) == [["offered", "Offered", 2, 2, 100.0, "%", "d"],
                                                     ["accepted", "Accepted", 1, 2, 50.0, "%", "d"]]
