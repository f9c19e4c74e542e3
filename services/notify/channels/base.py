"""One interface for every channel: send an Outgoing, get Sent back or a ChannelError."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """A rendered message to one address (its text holds no PHI: domain/templates.py)."""

    message_id: str
    kind: str
    recipient: str
    address: str
    text: str
    subject: str = "PeerBridge"
    link: str | None = None


@dataclass(frozen=True)
class Sent:
    """The channel took the message: its id there, and whether taking it is delivery (no receipt will follow)."""

    provider_ref: str | None
    delivered: bool


class ChannelError(Exception):
    """A send failed: permanent (a bad address, refused credentials) or worth retrying (timeouts, 5xx, 429)."""

    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


def http_error(status: int) -> ChannelError:
    """An HTTP answer as a ChannelError: 408, 429 and 5xx are retried, other 4xx are not."""
    return ChannelError(f"http-{status}", permanent=400 <= status < 500 and status not in (408, 429))


class Channel(Protocol):
    name: str

    async def send(self, out: Outgoing) -> Sent: ...
