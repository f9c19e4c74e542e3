"""Which peer specialist to offer a visit to (walking-skeleton version: eligibility at the facility, then load)."""
from __future__ import annotations


def eligible(specialist: dict, visit: dict) -> bool:
    """Active, works at the visit's facility, and speaks the patient's language when it is not English."""
    if specialist.get("status") != "active":
        return False
    if visit["facility"] not in specialist.get("facilities", []):
        return False
    language = (visit.get("language") or "en").split("-")[0]
    return language == "en" or language in [lang.split("-")[0] for lang in specialist.get("languages", [])]


def choose(specialists: list[dict], visit: dict) -> tuple[dict | None, dict]:
    """The specialist to offer the visit to, and the explanation stored with the assignment."""
    candidates = [s for s in specialists if eligible(s, visit)]
    explanation = {"considered": len(specialists), "eligible": len(candidates),
                   "runners_up": [s["id"] for s in candidates[1:4]]}
    return (candidates[0] if candidates else None), explanation
