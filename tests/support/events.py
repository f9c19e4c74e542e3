"""A test event for the runtime's plumbing (outbox, relay, consumer), outside the services' catalogue."""
from __future__ import annotations

from typing import ClassVar

from services.contracts import Event

TOPIC = "test.items.v1"


class ItemAdded(Event):
    """An item was added (what the delivery tests count)."""

    topic: ClassVar[str] = TOPIC
    item: int
    note: str | None = None
    poison: bool | None = None
