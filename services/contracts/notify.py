"""What notify publishes: what people answered by text (notify.reply.v1) and what became of each message
(notify.delivery.v1). Neither carries a message's text, an address or a phone number."""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .base import Event, FacilityId, Id, Instant, VisitNumber

REPLY_TOPIC = "notify.reply.v1"
DELIVERY_TOPIC = "notify.delivery.v1"


class OfferReplied(Event):
    """A peer answered an offer by text from a verified number while it was open"""

    topic: ClassVar[str] = REPLY_TOPIC
    assignment_id: Id
    facility: FacilityId
    visit_number: VisitNumber
    specialist_id: Id
    answer: Literal["accept", "decline"]
    reason_code: str | None = Field(None, max_length=32, description="A decline's reason, from a fixed vocabulary")
    received_at: Instant
    channel: Literal["sms"]
    message_id: Id | None = Field(None, description="The notify message that was answered")


class AlertAcknowledged(Event):
    """A supervisor acknowledged a no-peer-available alert (by text or in the console)"""

    topic: ClassVar[str] = REPLY_TOPIC
    alert_id: Id
    facility: FacilityId
    visit_number: VisitNumber
    supervisor: str
    acknowledged_at: Instant
    via: Literal["sms", "api"]


class MessageStatusChanged(Event):
    """A message to a peer or a supervisor was queued, sent, delivered, failed, replied to or cancelled"""

    topic: ClassVar[str] = DELIVERY_TOPIC
    message_id: Id
    facility: FacilityId
    visit_number: VisitNumber
    kind: Literal["offer", "alert", "closed"]
    recipient_kind: Literal["specialist", "supervisor"]
    recipient_id: str
    channel: Literal["sms", "email", "push", "webhook", "log"]
    status: Literal["queued", "sent", "delivered", "failed", "replied", "cancelled"]
    at: Instant
    attempts: int = Field(0, ge=0)
    error_class: str | None = Field(None, max_length=64)
    assignment_id: Id | None = None
