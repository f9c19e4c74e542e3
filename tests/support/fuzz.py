"""Counts of the fuzz runs (bad-input corpus, schemathesis) and the summary `make fuzz` prints."""
from __future__ import annotations

from collections import Counter

COUNTS: Counter = Counter()


def observe(source: str, status: int) -> None:
    """One request sent by `source`; a status of 500 or more counts as a server error."""
    COUNTS[source, "cases"] += 1
    if status >= 500:
        COUNTS[source, "server errors"] += 1


def pytest_terminal_summary(terminalreporter) -> None:
    sources = sorted({source for source, _ in COUNTS})
    if not sources:
        return
    terminalreporter.section("fuzz counts")
    for source in sources:
        terminalreporter.write_line(f"{source}: {COUNTS[source, 'cases']} cases run, "
                                    f"{COUNTS[source, 'server errors']} server errors (5xx)")
