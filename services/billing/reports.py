"""Billers' reports: a month's claims as CSV (what a spreadsheet or a practice-management import reads)."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

COLUMNS = ("claim_number", "status", "frequency", "payer", "plan_id", "facility", "visit_number", "service_date",
           "units", "charge", "paid_amount", "payer_claim_number", "original_claim_number", "batch_id",
           "interchange_control_number", "batch_status")
# A cell a spreadsheet would run as a formula (CSV injection): shown as text instead.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def month_bounds(month: str) -> tuple[date, date]:
    """The first day of YYYY-MM and of the month after (ValueError when it is not a month)."""
    if not re.fullmatch(r"\d{4}-\d{2}", month, re.ASCII):
        raise ValueError(month)
    year, mon = int(month[:4]), int(month[5:])
    first = date(year, mon, 1)
    return first, date(year + (mon == 12), mon % 12 + 1, 1)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def claims_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in COLUMNS])
    return out.getvalue()
