"""What a supervisor reads: a case's state on the board, constraints, reasons, certifications and the week (pure)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from .words import duration, parse_instant

STATES = {
    "waiting": "Waiting for an offer", "offered": "Offered", "escalated": "Escalated: nobody accepted",
    "no-peer": "No peer available", "accepted": "Accepted, on the way", "at-bedside": "At the bedside",
    "consent": "Consent recorded", "follow-up": "Follow-up",
}
CONSTRAINTS = {
    "active": "not active", "certified": "no valid certification", "time_in_recovery": "too little time in recovery",
    "on_shift": "not on shift here", "serves_facility": "does not serve this facility",
    "under_caseload_cap": "caseload full", "speaks_language": "does not speak the patient's language",
    "same_gender": "not the gender the patient asked for", "not_recused": "recused or already asked",
    "moud_supportive": "not MOUD-supportive",
}
REMATCH_REASONS = {
    "mismatch": "Poor match", "patient-asked-gender": "Patient asked for a peer of another gender",
    "patient-asked-pathway": "Patient asked for another recovery pathway",
    "patient-asked-language": "Patient asked for another language", "boundary-conflict": "Boundary conflict",
    "no-response": "Peer not responding", "peer-unwell": "Peer unwell", "other": "Other",
}
CLOSE_REASONS = {
    "completed": "Completed", "declined": "Patient declined", "unreachable": "Unreachable",
    "transferred-care": "Care transferred", "moved": "Moved away", "no-peer-available": "No peer available",
    "visit-cancelled": "Visit cancelled", "incarcerated": "Incarcerated", "deceased": "Deceased", "other": "Other",
}
MESSAGE_STATUS = {"queued": "queued", "sent": "sent", "delivered": "delivered", "failed": "failed",
                  "replied": "replied", "cancelled": "not sent (settled first)"}
MESSAGE_KIND = {"offer": "Offer", "alert": "Supervisor alert", "closed": "No longer open", "late": "Too late",
                "accepted": "Accept confirmed", "declined": "Decline confirmed", "ack": "Acknowledged",
                "help": "Help"}
WARN_DAYS = (30, 60)  # certification and CE renewal warnings: the 60 and 30 days


def state_line(case: dict, now: datetime) -> str:
    """The board's one line for a case: "Offered to Maria Alvarez, 7 min left (attempt 2)"."""
    state = case.get("state", "waiting")
    text = STATES.get(state, state)
    who = case.get("specialist_name") or "a peer"
    if state == "offered":
        left = parse_instant(case.get("expires_at"))
        remaining = (left - now).total_seconds() if left else 0
        text = f"Offered to {who}, " + (f"{duration(remaining)} left" if remaining > 0 else "answer due now")
        if (case.get("offers") or 0) > 1:
            text += f" (offer {case['offers']})"
    elif state in ("accepted", "at-bedside", "consent"):
        text += f": {who}"
    elif state == "follow-up" and case.get("next_follow_up"):
        due = parse_instant(case["next_follow_up"])
        text += f", next call {'due' if due and due <= now else 'in'} " + (
            duration((due - now).total_seconds()) if due and due > now else "now")
    return text


def failed_words(failed: list[str]) -> str:
    return ", ".join(CONSTRAINTS.get(name, name) for name in failed)


def cert_warning(expires_on: str | None, today: date) -> tuple[str, str]:
    """(level, words) of a certification's expiry: expired, due within 30 or 60 days, or fine."""
    try:
        day = date.fromisoformat(expires_on) if expires_on else None
    except ValueError:
        day = None
    if day is None:
        return "bad", "no expiry on record"
    left = (day - today).days
    if left < 0:
        return "bad", f"expired {day.isoformat()}"
    for limit in WARN_DAYS:
        if left <= limit:
            return "warn", f"expires {day.isoformat()} (in {left} days)"
    return "ok", f"valid to {day.isoformat()}"


def recovery_time(since: str | None, today: date) -> str:
    try:
        start = date.fromisoformat(since) if since else None
    except ValueError:
        start = None
    if start is None:
        return "not recorded"
    months = (today.year - start.year) * 12 + today.month - start.month - (today.day < start.day)
    years, months = divmod(max(0, months), 12)
    return f"{years} y {months} mo" if years else f"{months} mo"


def week_days(week_start: datetime) -> list[date]:
    return [(week_start + timedelta(days=i)).date() for i in range(7)]


def shifts_by_day(shifts: list[dict], days: list[date]) -> list[list[str]]:
    """Each day's shifts as "07:00-15:00 MERCY" (UTC; a night shift shows on each day it covers)."""
    out: list[list[str]] = [[] for _ in days]
    for s in shifts:
        start, end = parse_instant(s.get("starts_at")), parse_instant(s.get("ends_at"))
        if start is None or end is None:
            continue
        for i, day in enumerate(days):
            if start.date() <= day <= (end - timedelta(microseconds=1)).date():
                out[i].append(f"{start:%H:%M}-{end:%H:%M} {s.get('facility', '')}")
    return out

SUPERVISION_TOPICS = ("boundaries", "ethics", "self-care", "crisis", "documentation", "cultural-humility",
                      "recovery-support", "trauma-informed-care", "moud", "harm-reduction", "caseload", "other")
LEAVE_REASONS = {"recurrence-of-use": "Recurrence of use", "medical": "Medical", "personal": "Personal",
                 "family": "Family", "burnout": "Burnout / wellbeing", "other": "Other"}
HANDOFF_OUTCOMES = {"handed-off": "Handed off to the route", "patient-declined": "Patient declined",
                    "no-answer": "Route did not answer", "resolved": "Resolved", "transferred": "Transferred",
                    "other": "Other"}
