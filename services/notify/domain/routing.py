"""Who is reached, on which channel first, and what comes next when a channel fails: pure choices over rows."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Sequence

CHANNELS = ("sms", "email", "push", "webhook", "log")
# Channels whose acceptance is the delivery (no receipt comes later); SMS waits for the carrier's receipt.
DELIVERED_ON_ACCEPT = {"email", "push", "webhook", "log"}


@dataclass(frozen=True)
class Contact:
    """One way to reach a person, in their order of preference."""

    id: str | None
    channel: str
    address: str
    rank: int
    verified: bool


LOG_CONTACT = Contact(None, "log", "-", 1_000_000, True)


def usable(contacts: Sequence[Contact], *, log_when_none: bool = False) -> list[Contact]:
    """Verified contacts in preference order; the log channel when none is (local stack only)."""
    found = sorted((c for c in contacts if c.verified and c.channel in CHANNELS), key=lambda c: c.rank)
    return found or ([LOG_CONTACT] if log_when_none else [])


def next_contact(contacts: Sequence[Contact], tried_channels: set[str]) -> Contact | None:
    """The most preferred usable contact on a channel not yet tried for this message's event and recipient."""
    return next((c for c in contacts if c.channel not in tried_channels), None)


def on_call(facility: str, now: datetime, rota: Sequence[Mapping], standing: Mapping[str, str],
            from_event: str | None = None) -> str | None:
    """The supervisor to alert: the rota's entry covering now (latest start wins), else the program's supervisor
    named in the event, else the standing setting for the facility, else the standing default ("*")."""
    covering = [r for r in rota if r["facility"] == facility and r["starts_at"] <= now < r["ends_at"]]
    if covering:
        return max(covering, key=lambda r: r["starts_at"])["supervisor_id"]
    return from_event or standing.get(facility) or standing.get("*")
