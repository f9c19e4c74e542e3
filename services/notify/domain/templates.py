"""Message texts, with no PHI by construction: a template can only use the fields of MessageContext."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

# What a location or bed may look like on a phone screen ("ED", "ED-POD-B", "12A"): a short code without spaces.
# Anything else is left out, so a field of the feed holding free text ("Pt J. Smith, OD") never reaches a message.
_PLACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-/]{0,15}$")


@dataclass(frozen=True)
class MessageContext:
    """Everything a message may say: the place, the deadline, a code and a link. Nothing about the patient."""

    facility: str
    location: str | None = None
    bed: str | None = None
    expires_at: datetime | None = None
    reply_code: str | None = None
    link: str | None = None
    # Issue 14: the word "crisis" on an offer, the crisis route's name, a credential's kind and due date (staff data).
    crisis: bool = False
    route: str | None = None
    credential: str | None = None
    due_on: date | None = None


def place(value: str | None) -> str | None:
    """A location or bed as it may appear in a message, or None when it looks like anything but a place code."""
    return value if value and _PLACE.match(value) else None


def visit_place(visit) -> tuple[str | None, str | None]:
    """The only facts of a visit a message may carry: its ED location and bay, as place codes."""
    return place(visit.location), place(visit.bed)


def reply_code(assignment_id: str, taken: set[str] = frozenset()) -> str:
    """A four-digit code naming one offer, for a peer with several open at once: derived from the offer, and
    unlike the codes of the peer's other open offers (`taken`)."""
    for salt in range(10000):
        seed = assignment_id if salt == 0 else f"{assignment_id}:{salt}"
        code = f"{int(hashlib.sha256(seed.encode()).hexdigest(), 16) % 10000:04d}"
        if code not in taken:
            return code
    raise ValueError("no reply code left")


def offer_link(console_base_url: str, assignment_id: str) -> str:
    return f"{console_base_url.rstrip('/')}/peer/offers/{assignment_id}"


def case_link(console_base_url: str, case_id: str) -> str:
    return f"{console_base_url.rstrip('/')}/peer/cases/{case_id}"


def _day(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %d %b %H:%M %Z") if at else "soon"


def _where(ctx: MessageContext) -> str:
    parts = [ctx.facility] + [p for p in (place(ctx.location), place(ctx.bed) and f"bay {place(ctx.bed)}") if p]
    return ", ".join(parts)


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M %Z") if at else "soon"


def render(kind: str, ctx: MessageContext, zone: ZoneInfo = ZoneInfo("UTC"), *, repeat: int = 0) -> str:
    """The text of a message of this kind (offer, alert, closed, late, verify, replied, help, ack)."""
    if kind == "offer":
        urgent = "CRISIS - " if ctx.crisis else ""
        return (f"PeerBridge: {urgent}peer support requested at {_where(ctx)}. Reply 1 to accept, 2 to decline"
                f" (code {ctx.reply_code}) by {_when(ctx.expires_at, zone)}. {ctx.link}")
    if kind == "alert":
        again = f" (reminder {repeat})" if repeat else ""
        return (f"PeerBridge{again}: no peer available at {_where(ctx)}. Please arrange cover. Reply OK to"
                f" acknowledge. {ctx.link or ''}").rstrip()
    if kind == "followup-open":
        # Only that a call is due and until when: a text naming the patient or the reason would itself disclose.
        return (f"PeerBridge: a follow-up call is due for one of your cases, until {_day(ctx.expires_at, zone)}."
                f" {ctx.link}")
    if kind == "followup-closing":
        return (f"PeerBridge: reminder, a follow-up call window closes {_day(ctx.expires_at, zone)} and the"
                f" patient has not been reached yet. {ctx.link}")
    if kind in ("closed", "late"):
        return "PeerBridge: this referral is no longer open. No action needed."
    if kind == "verify":
        return f"PeerBridge verification code: {ctx.reply_code}. It expires at {_when(ctx.expires_at, zone)}."
    if kind == "accepted":
        return f"PeerBridge: accepted. Thank you. {ctx.link or ''}".rstrip()
    if kind == "declined":
        return "PeerBridge: declined. The next peer is being asked."
    if kind == "ack":
        return "PeerBridge: alert acknowledged."
    if kind == "help":
        return "PeerBridge: reply 1 to accept or 2 to decline an open offer; add its code if you have several."
    if kind == "crisis":
        route = ROUTE_NAMES.get(ctx.route or "", "the crisis route")
        return (f"PeerBridge: CRISIS at {_where(ctx)}. Hand-off to {route}. Open the case in the app and record the"
                f" hand-off. {ctx.link or ''}").rstrip()
    if kind == "renewal":
        what = "continuing education" if ctx.credential == "continuing-education" else "certification"
        return (f"PeerBridge: a peer's {what} is due for renewal on {ctx.due_on.isoformat() if ctx.due_on else 'soon'}."
                f" See renewals in the supervisor console. {ctx.link or ''}").rstrip()
    raise ValueError(f"no template {kind!r}")


KINDS = ("offer", "alert", "closed", "late", "verify", "accepted", "declined", "ack", "help", "crisis", "renewal",
         "followup-open", "followup-closing")
SUBJECTS = {"offer": "Peer support requested", "alert": "No peer available", "verify": "Verification code",
            "crisis": "Crisis hand-off", "renewal": "Credential renewal due",
            "followup-open": "Follow-up call due", "followup-closing": "Follow-up window closing"}
# How a crisis route is named in a message (the routes of pairing's program settings).
ROUTE_NAMES = {"on-call-clinician": "the on-call clinician", "988": "the 988 Lifeline",
               "mobile-crisis": "the mobile crisis team", "ed-psychiatry": "ED psychiatry"}
