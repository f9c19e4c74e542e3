"""What an HL7 message asks of intake, decided without the database: refuse it, ignore it, or the visit it changes."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from . import ack as acks
from .adt import VISIT_EVENTS, AdtVisit, Header, VisitError, extract
from .hl7 import Message
from .indications import Rules
from .orders import is_order, plan_order

_VERSION = re.compile(r"^2\.[3-8](\.\d+)?$")


@dataclass(frozen=True)
class FeedConfig:
    """What the receiver accepts and how it reads the feed (from settings, read once)."""

    rules: Rules
    emergency_locations: frozenset[str]
    processing_ids: frozenset[str]
    timezone: tzinfo


# MSH-10 is at most 20 characters up to v2.6 and 199 from v2.7: anything longer is a sender's bug, not an id.
MAX_CONTROL_ID = 199


def check_header(hdr: Header, config: FeedConfig) -> acks.Outcome | None:
    """AR for a message we must not take: unsupported version or processing id, no control id."""
    if not _VERSION.match(hdr.version):
        return acks.rejected("203", "MSH^1^12", "HL7 version not supported (2.3 to 2.8 are)")
    if hdr.processing_id not in config.processing_ids:
        return acks.rejected("202", "MSH^1^11", "processing id not accepted by this interface")
    if not hdr.control_id:
        return acks.rejected("101", "MSH^1^10", "message control id (MSH-10) is required")
    if len(hdr.control_id) > MAX_CONTROL_ID:
        return acks.rejected("102", "MSH^1^10", f"message control id (MSH-10) is longer than {MAX_CONTROL_ID}")
    if not hdr.message_code:
        return acks.rejected("101", "MSH^1^9", "message type (MSH-9) is required")
    return None


def dedupe_key(hdr: Header, body: bytes) -> str:
    """What makes a message a resend: the same sender (MSH-3, MSH-4), control id (MSH-10) and bytes as stored.

    A control id alone is not enough: senders reset their counters, and a different message under a used id must
    still be processed."""
    return f"{hdr.sender}|{hdr.control_id}|{hashlib.sha256(body).hexdigest()}"


def sender_and_control_id(key: str) -> str:
    return key.rsplit("|", 1)[0]


def plan_adt(msg: Message, hdr: Header, config: FeedConfig, now: datetime) -> acks.Outcome | tuple[AdtVisit, str]:
    """Everything decidable without the database: ignore, refuse (AE), or the visit and its number."""
    if is_order(hdr):
        return plan_order(msg, hdr, config.rules, emergency_locations=config.emergency_locations,
                          tz=config.timezone, now=now)
    if hdr.message_code != "ADT" or hdr.trigger not in VISIT_EVENTS:
        return acks.Outcome("AA", "ignored", reason="message type not used")
    try:
        adt = extract(msg, emergency_locations=config.emergency_locations, tz=config.timezone, received_at=now,
                      hdr=hdr)
    except VisitError as exc:
        return acks.failed(exc.code, exc.location, exc.reason)
    if adt.trigger == "A40":
        if not adt.prior_visit_number:
            return acks.Outcome("AA", "ignored", reason="patient merge without a visit")
        target = adt.prior_visit_number
    else:
        target = adt.visit_number
    if not adt.visit_number:
        if not adt.is_ed:
            return acks.Outcome("AA", "ignored", reason="not an ED visit")
        return acks.failed("101", "PV1^1^19", "an ED visit needs its visit number (PV1-19)")
    return adt, target
