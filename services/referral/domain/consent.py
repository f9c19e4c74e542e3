"""The 42 CFR 2.31 content of a disclosure consent: recipients, expiry and the human-readable copy (pure)."""
from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any

# 42 CFR 2.31(a)(7) requires an expiration date, event or condition. Pairing's bedside consent may name no date;
# the program's form then states one year from the day it was given.
DEFAULT_VALIDITY = timedelta(days=365)
# Consent scopes (pairing's free `scope`) that name the peer program as the only recipient: the patient agreed to
# peer support but not to the hospital receiving the referral. Any other scope names the referring facility too.
PROGRAM_ONLY_SCOPES = frozenset({"peer-program-only", "program-only"})
FACILITY_SYSTEM = "urn:peerbridge:facility"
PROGRAM_SYSTEM = "urn:peerbridge:program"
PROGRAM_RECIPIENT = {"system": PROGRAM_SYSTEM, "value": "peer-recovery",
                     "name": "the PeerBridge peer recovery support program"}
ENDINGS = {"expired": "expired", "replaced": "replaced by a consent that does not name this recipient"}
SIGNERS = {"patient": "the patient", "representative": "the patient's authorised representative"}
RIGHT_TO_REVOKE = (
    "The patient may revoke this consent at any time, orally or in writing, by telling the peer recovery "
    "specialist or the PeerBridge peer recovery program, except to the extent that action has already been taken "
    "in reliance on it. A revocation is sent to every recipient of this consent.")


def expiry(recorded_at: datetime, expires_at: datetime | None) -> datetime:
    """When the consent ends if not revoked: the date the patient gave, else the program's default."""
    return expires_at or recorded_at + DEFAULT_VALIDITY


def names(consent: dict[str, Any] | None, system: str, value: str) -> bool:
    """Whether the consent names this recipient (an organization by identifier) among those the patient listed."""
    return any(r["system"] == system and r["value"] == value for r in (consent or {}).get("recipients") or ())


def for_facility(consent: dict[str, Any] | None, facility: str) -> bool:
    """Whether the patient consented to the referring facility receiving the referral: named among the recipients
    when the patient listed them, else any scope but the program's alone."""
    if not consent:
        return False
    if consent.get("recipients") is not None:
        return names(consent, FACILITY_SYSTEM, facility)
    return consent.get("scope") not in PROGRAM_ONLY_SCOPES


def covers(consent: dict[str, Any] | None, facility: str, recipient: tuple[str, str] | None) -> bool:
    """Whether a reader may receive the facility's referral under this consent: a named recipient (an HIE or a
    program registered as one) only when the patient named it; the facility's own systems when it is covered."""
    if recipient is not None:
        return names(consent, *recipient)
    return for_facility(consent, facility)


def recipients(consent: dict[str, Any], facility: str) -> list[dict]:
    """Who may receive, as (system, value, name): the program always, then the named ones or the facility."""
    named = consent.get("recipients")
    if named is None:
        named = [{"system": FACILITY_SYSTEM, "value": facility, "name": f"the referring facility ({facility})"}] \
            if for_facility(consent, facility) else []
    return [PROGRAM_RECIPIENT] + [r for r in named if (r["system"], r["value"]) != (PROGRAM_SYSTEM, "peer-recovery")]


def narrative(consent: dict[str, Any], facility: str, status: str) -> dict:
    """The consent as the recipient reads it: every element 42 CFR 2.31(a) asks of a written consent."""
    to_whom = "; ".join(r["name"] for r in recipients(consent, facility))
    signature = consent.get("signature")
    given = (f"signed by {SIGNERS[signature['signer']]} on {_day(signature['signed_at'])}, at the bedside, recorded "
             "by the peer recovery specialist (the signature: Consent.sourceAttachment)" if signature else
             f"by the patient on {_day(consent['recorded_at'])}, at the bedside, recorded by the peer recovery "
             "specialist")
    ended = consent.get("ended")
    state = {"active": "In force.", "rejected": "Refused by the patient: nothing may be disclosed.",
             "inactive": f"Ended ({ENDINGS.get(ended, 'revoked by the patient')}) on "
                         f"{_day(consent.get('ended_at') or consent['recorded_at'])}: nothing more may be disclosed."}
    rows = [
        ("Status", state.get(status, status)),
        ("Patient", "the patient identified in Consent.patient"),
        ("Who discloses", "the PeerBridge peer recovery support program"),
        ("To whom", to_whom),
        ("Purpose", "treatment: coordinating the patient's referral to peer recovery support"),
        ("What", "the referral to peer recovery support (ServiceRequest), its progress (Task) and this consent, "
                 "which identify the patient as having a substance use disorder"),
        ("Expires", f"{_day(consent['expires_at'])}, or earlier on revocation"),
        ("Given", given),
        ("Right to revoke", RIGHT_TO_REVOKE),
    ]
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    div = (f'<div xmlns="http://www.w3.org/1999/xhtml"><p>Consent to disclose substance use disorder information '
           f'(42 CFR 2.31)</p><table>{cells}</table></div>')
    return {"status": "generated", "div": div}


def _day(value: str) -> str:
    return datetime.fromisoformat(value).date().isoformat()
