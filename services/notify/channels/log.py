"""The log channel: the local stack writes every message here, so `make run` shows what would go out."""
from __future__ import annotations

import sys

from .base import Outgoing, Sent


class LogChannel:
    name = "log"

    def __init__(self, stream=None):
        self.stream = stream

    async def send(self, out: Outgoing) -> Sent:
        # A plain line beside the JSON logs: the text is built from templates that cannot hold PHI.
        stream = self.stream or sys.stderr
        stream.write(f"NOTIFY {out.kind} to {out.recipient}: {out.text}\n")
        stream.flush()
        return Sent(f"log-{out.message_id}", delivered=True)
