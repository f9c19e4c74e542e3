"""Email over SMTP with STARTTLS and authentication (the standard library's client, in a thread)."""
from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path

from .base import ChannelError, Outgoing, Sent


class SmtpChannel:
    name = "email"

    def __init__(self, host: str, port: int, *, sender: str, user: str = "", password: str = "",
                 starttls: bool = True, ca_file: Path | None = None, timeout: float = 10.0):
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password = user, password
        self.starttls = starttls
        self.context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self.timeout = timeout

    def _send(self, out: Outgoing) -> str:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, out.address, out.subject
        msg["Message-ID"] = f"<{out.message_id}@peerbridge>"
        msg.set_content(out.text)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=self.context)
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(msg)
        return msg["Message-ID"]

    async def send(self, out: Outgoing) -> Sent:
        try:
            ref = await asyncio.to_thread(self._send, out)
        except smtplib.SMTPRecipientsRefused:
            raise ChannelError("recipient-refused", permanent=True) from None
        except smtplib.SMTPAuthenticationError:
            raise ChannelError("smtp-auth", permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(type(exc).__name__) from None
        return Sent(ref, delivered=True)
