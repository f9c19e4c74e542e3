"""Intake's HTTP responses: what a visit registered, a visit as stored, a stored message's metadata, a subscriber."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class VisitAnswer(BaseModel):
    """Whether the visit needs a peer, and why (each indication as the indication engine gave it)."""

    facility: str
    visit_number: str
    peer_indicated: bool
    indications: list[dict[str, Any]]


class VisitRead(BaseModel):
    """A visit as intake holds it: its status, why it needs a peer, and its lineage."""

    facility: str
    visit_number: str
    status: str
    peer_indicated: bool
    indications: list[dict[str, Any]]
    arrived_at: str | None
    diagnoses: list[str]
    crisis: bool = False
    crisis_rules: list[str] | None = None
    payer: dict[str, Any] | None = None
    message_id: str | None
    updated_at: str


class MessageRead(BaseModel):
    """A stored message's metadata (never its body); `error` and `result` carry codes and ids, never patient data."""

    id: str
    received_at: str
    channel: str
    sending_app: str
    sending_facility: str
    control_id: str
    message_type: str
    version: str
    status: str
    ack_code: str
    error: dict[str, Any] | None
    result: dict[str, Any]
    replay_of: str | None
    duplicates: int
    control_id_reused: bool


class Address(BaseModel):
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None


class SubscriberRead(BaseModel):
    """The subscriber's demographics for an 837P (loop 2010BA); nulls where the feeds sent nothing."""

    last_name: str | None
    first_name: str | None
    middle_name: str | None
    birth_date: str | None
    gender: str
    address: Address
