"""What comes back: texts from peers and supervisors, the SMS provider's delivery receipts, verification codes."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

import structlog

from services.contracts import OfferReplied
from services.runtime.outbox import UnitOfWork

from . import metrics, store
from .domain.replies import parse_reply
from .domain.templates import MessageContext, offer_link, render
from .service import NotifyService

log = structlog.get_logger("notify.replies")
# The provider's words for a message that did not reach the phone, and for one that did.
FAILED = {"failed", "undelivered"}
DELIVERED = {"delivered", "read"}


def code_hash(contact_id: str, code: str) -> str:
    return hashlib.sha256(f"{contact_id}:{code}".encode()).hexdigest()


class Replies:
    """Texts, receipts and verification over the notify use cases."""

    def __init__(self, service: NotifyService, delivery):
        self.service = service
        self.delivery = delivery  # for a fallback when a receipt says the text failed

    def _text(self, kind: str, **ctx) -> str:
        return render(kind, MessageContext(facility="", **ctx), self.service.zone)

    async def inbound_sms(self, uow: UnitOfWork, sender: str, body: str, ref: str) -> str | None:
        """Apply a text; the answer to send back (None: say nothing, e.g. to a number we do not know)."""
        now = uow.clock.now()
        if not await store.inbound_once(uow.conn, ref, now, "received"):
            return None  # the provider retried a webhook we answered: nothing happens twice
        reply = parse_reply(body)
        contact = await store.verified_sender(uow.conn, "sms", sender)
        outcome, answer = await self._apply(uow, contact, reply)
        await uow.conn.execute("UPDATE inbound SET outcome = $2 WHERE provider_ref = $1", ref, outcome)
        metrics.REPLIES.labels(reply.answer, outcome).inc()
        log.info("sms_received", reason_code=reply.answer, outcome=outcome)
        return answer

    async def _apply(self, uow: UnitOfWork, contact, reply) -> tuple[str, str | None]:
        if contact is None:
            return "unknown-sender", None
        if contact["person_kind"] == "supervisor":
            if reply.answer not in ("ack", "accept"):
                return "help", self._text("help")
            alerts = await store.open_alerts(uow.conn, supervisor_id=contact["person_id"])
            for alert in alerts:
                await self.service.acknowledge(uow, alert, via="sms")
            return ("acknowledged" if alerts else "nothing-open"), self._text("ack")
        if reply.answer not in ("accept", "decline"):
            return "help", self._text("help")
        now = uow.clock.now()
        offers = await store.offers_of(uow.conn, contact["person_id"])
        if reply.code:
            offers = [o for o in offers if o["reply_code"] == reply.code]
        open_ = [o for o in offers if o["status"] == "offered" and o["reply"] is None and o["expires_at"] > now]
        if not open_:
            return ("late" if offers else "no-offer"), self._text("late")
        if len(open_) > 1:
            return "ambiguous", self._text("help")
        offer = open_[0]
        assignment_id = str(offer["assignment_id"])
        await store.record_reply(uow.conn, assignment_id, reply.answer, now)
        await self.service.cancel(uow, assignment_id=assignment_id, replied=True)
        await uow.emit(OfferReplied(assignment_id=assignment_id, facility=offer["facility"],
                                    visit_number=offer["visit_number"], specialist_id=offer["specialist_id"],
                                    answer=reply.answer, reason_code=reply.reason, received_at=now, channel="sms"))
        if reply.answer == "accept":
            return "accepted", self._text("accepted", link=offer_link(self.service.settings.console_base_url,
                                                                       assignment_id))
        return "declined", self._text("declined")

    async def receipt(self, uow: UnitOfWork, ref: str, status: str) -> bool:
        """The provider's status callback; False when no message has that id."""
        m = await store.message_by_provider_ref(uow.conn, ref)
        if m is None:
            return False
        now = uow.clock.now()
        if status in DELIVERED and m["status"] == "sent":
            await self.service.set_status(uow, m, "delivered", delivered_at=now, fallback_at=None)
        elif status in DELIVERED and m["delivered_at"] is None:
            await store.update_message(uow.conn, str(m["id"]), delivered_at=now, fallback_at=None)
        elif status in FAILED and m["status"] in ("sent", "delivered"):
            failed = await self.service.set_status(uow, m, "failed", error_class=f"receipt-{status}",
                                                   fallback_at=None)
            await self.delivery.fall_back(uow, failed)
        return True

    # ---- verification codes
    async def start_verification(self, uow: UnitOfWork, contact) -> str | None:
        """Send a one-time code to an unverified SMS or email contact; None when one was sent under a minute ago."""
        now = uow.clock.now()
        life = timedelta(minutes=self.service.settings.code_minutes)
        if contact["code_expires_at"] and contact["code_expires_at"] - life + timedelta(minutes=1) > now:
            return None
        code = f"{secrets.randbelow(1_000_000):06d}"
        await store.set_contact(uow.conn, str(contact["id"]), code_hash=code_hash(str(contact["id"]), code),
                                code_expires_at=now + life, code_attempts=0)
        cause = f"verify:{contact['id']}:{secrets.token_hex(4)}"
        row = await store.insert_message(
            uow.conn, cause=cause, kind="verify", recipient_kind=contact["person_kind"],
            recipient_id=contact["person_id"], channel=contact["channel"], contact_id=str(contact["id"]),
            address=contact["address"], context={"reply_code": code, "expires_at": (now + life).isoformat()},
            now=now)
        return str(row["id"]) if row else None

    async def verify(self, uow: UnitOfWork, contact, code: str) -> str | None:
        """Mark the contact verified when the code matches (five tries per code); else why not (the failed try is
        counted in the same transaction, so the caller must commit before refusing)."""
        now = uow.clock.now()
        if contact["verified_at"] is not None:
            return None
        if not contact["code_hash"] or contact["code_expires_at"] <= now or contact["code_attempts"] >= 5:
            return "no valid code: request a new one"
        if not hmac.compare_digest(contact["code_hash"], code_hash(str(contact["id"]), code)):
            await store.set_contact(uow.conn, str(contact["id"]), code_attempts=contact["code_attempts"] + 1)
            return "the code does not match"
        await store.set_contact(uow.conn, str(contact["id"]), verified_at=now, code_hash=None, code_expires_at=None)
        return None
