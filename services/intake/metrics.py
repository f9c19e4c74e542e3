"""Intake's Prometheus metrics; labels are message types and ACK codes, never patient data."""
from __future__ import annotations

import re

from prometheus_client import Counter, Histogram

MESSAGES = Counter("peerbridge_intake_messages_total", "Messages received, by channel, type and ACK code",
                   ["channel", "message_type", "ack_code"])
ACK_SECONDS = Histogram("peerbridge_intake_ack_seconds", "Time from a frame's arrival to its ACK", ["channel"],
                        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
CONTROL_ID_REUSED = Counter("peerbridge_intake_control_id_reused_total",
                            "Messages processed as new although their sender had used their control id (MSH-10) for"
                            " a different message", ["message_type"])
_TYPE = re.compile(r"^[A-Z0-9]{3}(\^[A-Z0-9]{3})?$")


def type_label(message_type: str) -> str:
    """A message type as a label; anything odd becomes 'other' so a feed cannot blow up the label set."""
    return message_type if _TYPE.match(message_type or "") else "other"
