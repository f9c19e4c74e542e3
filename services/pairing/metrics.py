"""Prometheus metrics: time to accept and to bedside per facility, and whether each met its target (no PHI)."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

BUCKETS = (60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 14400)

TIME_TO_ACCEPT = Histogram("pairing_time_to_accept_seconds", "From the page to a peer's acceptance",
                           ["facility"], buckets=BUCKETS)
TIME_TO_BEDSIDE = Histogram("pairing_time_to_bedside_seconds", "From the page to the peer at the bedside",
                            ["facility"], buckets=BUCKETS)
WITHIN_TARGET = Counter("pairing_within_target_total", "Accepts and arrivals, by whether they met the target"
                        " (share within target = within=\"true\" / all)", ["facility", "measure", "within"])
ESCALATIONS = Counter("pairing_escalations_total", "Cases escalated to a supervisor", ["facility", "kind"])


def observe(measure: str, facility: str, seconds: float, target_seconds: float) -> None:
    """Record one accept or arrival and whether it was within the program's target."""
    (TIME_TO_ACCEPT if measure == "accept" else TIME_TO_BEDSIDE).labels(facility).observe(seconds)
    WITHIN_TARGET.labels(facility, measure, str(seconds <= target_seconds).lower()).inc()
