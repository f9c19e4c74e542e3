"""What a peer reads on the screen: reasons, languages and durations in words (pure)."""
from __future__ import annotations

from datetime import datetime

import langcodes

SUBSTANCE = {"opioids": "opioid", "alcohol": "alcohol", "stimulants": "stimulant", "cannabis": "cannabis",
             "sedatives": "sedative", "polysubstance": "polysubstance", "other": "substance"}
DECLINE_REASONS = {
    "busy-with-patient": "With another patient",
    "off-shift": "Off shift / leaving",
    "too-far": "Too far to reach in time",
    "conflict-of-interest": "I know this patient",
    "not-safe": "Not safe for me now",
    "other": "Other",
}
CONTACT_OUTCOMES = {
    "reached": "Reached", "no-answer": "No answer", "left-message": "Left a message", "declined": "Declined",
    "wrong-number": "Wrong number", "moved": "Moved away", "incarcerated": "Incarcerated", "deceased": "Deceased",
}
TOUCHPOINTS = {"follow-up": "Follow-up call", "re-offer": "Call to offer support again"}


def reason(indication: dict) -> str:
    """One indication as a peer would say it: "opioid overdose", "alcohol use", "clinician asked for a peer"."""
    category, substance = indication.get("category"), indication.get("substance")
    drug = SUBSTANCE.get(substance or "", "substance")
    if category == "opioid-poisoning":
        return "opioid overdose"
    if category and category.endswith("poisoning"):
        return f"{drug} overdose"
    if category == "substance-use-disorder":
        return "alcohol use (withdrawal or intoxication)" if substance == "alcohol" else f"{drug} use"
    if indication.get("kind") == "clinician-request":
        return "clinician asked for a peer"
    if category == "chief-complaint" or indication.get("kind") == "keyword":
        return f"{drug} use named at triage" if substance else "substance use named at triage"
    return f"{drug} use"


def reasons(indications: list[dict]) -> str:
    """All of a visit's indications in words, most serious first, without repeats; what triage's words matched
    only when no diagnosis or request says more."""
    stronger = [i for i in indications if i.get("kind") != "keyword" and i.get("category") != "chief-complaint"]
    said = sorted({reason(i) for i in stronger or indications}, key=lambda text: ("overdose" not in text, text))
    return ", ".join(said) if said else "peer support requested"


def language(tag: str | None) -> str:
    """A BCP-47 tag as its English name ("es" -> "Spanish"); unknown when the feed did not say."""
    if not tag:
        return "not recorded"
    try:
        return langcodes.Language.get(tag).display_name("en")
    except (ValueError, LookupError):
        return tag


def duration(seconds: float) -> str:
    """A short span as a peer reads it at a glance: "45 s", "12 min", "2 h 05 min"."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def since(start: datetime | None, now: datetime) -> str:
    if start is None:
        return "unknown"
    seconds = (now - start).total_seconds()
    return "under a minute" if seconds < 60 else duration(seconds)


def left(deadline: datetime | None, now: datetime) -> str:
    """The time left to answer, or "expired"."""
    if deadline is None:
        return "no deadline"
    remaining = (deadline - now).total_seconds()
    return duration(remaining) + " left" if remaining > 0 else "expired"


def parse_instant(text: str | None) -> datetime | None:
    """An ISO 8601 instant as the APIs and the page's script send it; None when absent or unreadable."""
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
