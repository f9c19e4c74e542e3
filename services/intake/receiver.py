"""One MLLP frame in, one ACK out: parse, check, store with its effects in one transaction, then acknowledge."""
from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, tzinfo

import asyncpg
import structlog

from services.runtime.clock import Clock
from services.runtime.outbox import unit_of_work

from . import store, visits
from .domain import ack as acks
from .domain.adt import VISIT_EVENTS, AdtVisit, Header, VisitError, extract, header, salvage_header
from .domain.hl7 import CHARSETS, Hl7ParseError, Message, parse_many
from .domain.indications import Rules
from .metrics import ACK_SECONDS, MESSAGES, type_label

log = structlog.get_logger("intake.receiver")
_VERSION = re.compile(r"^2\.[3-8](\.\d+)?$")


@dataclass(frozen=True)
class FeedConfig:
    """What the receiver accepts and how it reads the feed (from settings, read once)."""

    rules: Rules
    emergency_locations: frozenset[str]
    processing_ids: frozenset[str]
    timezone: tzinfo


def check_header(hdr: Header, config: FeedConfig) -> acks.Outcome | None:
    """AR for a message we must not take: unsupported version or processing id, no control id."""
    if not _VERSION.match(hdr.version):
        return acks.rejected("203", "MSH^1^12", "HL7 version not supported (2.3 to 2.8 are)")
    if hdr.processing_id not in config.processing_ids:
        return acks.rejected("202", "MSH^1^11", "processing id not accepted by this interface")
    if not hdr.control_id:
        return acks.rejected("101", "MSH^1^10", "message control id (MSH-10) is required")
    if not hdr.message_code:
        return acks.rejected("101", "MSH^1^9", "message type (MSH-9) is required")
    return None


Handled = tuple[Header | None, acks.Outcome, uuid.UUID]


class Receiver:
    """Turns frames into stored messages, visit changes and ACKs."""

    def __init__(self, pool: asyncpg.Pool, config: FeedConfig, clock: Clock, service: str = "intake"):
        self.pool = pool
        self.config = config
        self.clock = clock
        self.service = service

    async def process(self, raw: bytes, *, replay_of: str | None = None) -> tuple[list[Handled], bool]:
        """Store and apply every message of a frame; returns what happened to each and whether it was a batch."""
        now = self.clock.now()
        try:
            items, batch = parse_many(raw)
        except Hl7ParseError as exc:
            items, batch = [exc], False
        handled = []
        for item in items:
            body = raw if not batch else (item.text().encode("utf-8") if isinstance(item, Message) else raw)
            handled.append(await self._one(item, body, now, replay_of))
        return handled, batch

    async def handle_frame(self, raw: bytes) -> bytes | None:
        """The ACK bytes for a frame (None when the sender asked for none); raises only if nothing could be stored."""
        started = time.perf_counter()
        handled, batch = await self.process(raw)
        now = self.clock.now()
        replies: list[str] = []
        charset = ""
        for hdr, outcome, message_id in handled:
            charset = hdr.charset if hdr else charset
            MESSAGES.labels("mllp", type_label(hdr.message_type if hdr else ""), outcome.code).inc()
            if acks.wants_ack(hdr, outcome.code):
                replies.append(acks.build_ack(hdr, outcome, control_id=message_id.hex[:20], now=now))
        ACK_SECONDS.labels("mllp").observe(time.perf_counter() - started)
        if batch:
            text = acks.build_batch_ack(replies, now, uuid.uuid4().hex[:20])
        elif replies:
            text = replies[0]
        else:
            return None
        return text.encode(CHARSETS.get(charset) or "utf-8", errors="replace")

    async def _one(self, item: Message | Hl7ParseError, raw: bytes, now: datetime,
                   replay_of: str | None) -> Handled:
        message_id = uuid.uuid4()
        row = {"id": message_id, "received_at": now, "channel": "mllp", "raw": raw, "replay_of": replay_of}
        if isinstance(item, Hl7ParseError):
            outcome = acks.rejected(item.code, item.location, item.reason)
            salvaged = salvage_header(raw)
            if salvaged:
                row.update(sending_app=salvaged.sending_app, sending_facility=salvaged.sending_facility,
                           control_id=salvaged.control_id)
            await self._store_alone(row, outcome, {})
            log.info("hl7_rejected", message_id=str(message_id), reason_code=item.code)
            return salvaged, outcome, message_id
        hdr = header(item)
        row.update(sending_app=hdr.sending_app, sending_facility=hdr.sending_facility, control_id=hdr.control_id,
                   message_type=hdr.message_type[:40], version=hdr.version[:10])
        try:
            outcome = await self._process(item, hdr, row, now)
        except Exception as exc:  # a bug or a database fault: keep the message for replay, tell the sender AE
            log.error("hl7_processing_failed", message_id=str(message_id), error_class=type(exc).__name__)
            outcome = acks.failed("207", "", "internal error; the message is stored and will be replayed")
            await self._store_alone(row, outcome, {"error_class": type(exc).__name__})
        log.info("hl7_received", message_id=str(message_id), message_type=type_label(hdr.message_type),
                 ack_code=outcome.code, facility=hdr.sending_facility[:64])
        return hdr, outcome, message_id

    async def _store_alone(self, row: dict, outcome: acks.Outcome, result: dict) -> None:
        async with self.pool.acquire() as conn:
            await store.insert_message(conn, {**row, "status": outcome.status, "ack_code": outcome.code,
                                              "error": outcome.detail(), "result": result})

    async def _process(self, msg: Message, hdr: Header, row: dict, now: datetime) -> acks.Outcome:
        outcome = check_header(hdr, self.config)
        plan = outcome or self._plan(msg, hdr, now)
        if isinstance(plan, acks.Outcome) and plan.status != "ignored":
            await self._store_alone(row, plan, {})
            return plan
        claim = {**row, "dedupe_key": f"{hdr.sender}|{hdr.control_id}", "status": "accepted", "ack_code": "AA"}
        if isinstance(plan, acks.Outcome):
            async with self.pool.acquire() as conn:
                claimed = await store.claim_message(conn, {**claim, "status": "ignored",
                                                          "result": {"reason": plan.reason}})
            return plan if claimed else await self._duplicate(row, claim["dedupe_key"], now)
        adt, target = plan
        async with unit_of_work(self.pool, self.service, clock=self.clock) as uow:
            result = {"visit_number": target, "ed": adt.is_ed}
            # The claim also takes the visit's lock, saving a round trip per message.
            claimed = await store.claim_message(uow.conn, {**claim, "result": result},
                                                lock=store.visit_lock(adt.facility, target))
            if claimed:
                now_visit = await visits.current(uow, adt.facility, target, lock=False)
                if now_visit[0] is None and not adt.is_ed:
                    await store.set_outcome(uow.conn, row["id"], "ignored", "AA", None,
                                            {"reason": "not an ED visit"})
                    return acks.IGNORED
                await self._decide(uow, adt, target, row["id"], now_visit)
                if adt.subscriber is not None:
                    await store.save_subscriber(uow.conn, adt.facility, target, adt.subscriber, source="hl7",
                                                message_id=row["id"], received_at=row["received_at"])
                return acks.ACCEPTED
        return await self._duplicate(row, claim["dedupe_key"], now)

    async def _duplicate(self, row: dict, dedupe_key: str, now: datetime) -> acks.Outcome:
        """A resend is acknowledged as the first time; a replay of an applied message is recorded as such."""
        async with self.pool.acquire() as conn:
            seen = await store.find_claimed(conn, dedupe_key)
            outcome = acks.Outcome(seen["ack_code"], seen["status"])
            if row["replay_of"] is None:
                await store.count_duplicate(conn, seen["id"], now)
            else:
                await store.insert_message(conn, {**row, "status": outcome.status, "ack_code": outcome.code,
                                                  "result": {"already_applied": str(seen["id"])}})
        return outcome

    def _plan(self, msg: Message, hdr: Header, now: datetime) -> acks.Outcome | tuple[AdtVisit, str]:
        """Everything decidable without the database: ignore, refuse (AE), or the visit and its number."""
        if hdr.message_code != "ADT" or hdr.trigger not in VISIT_EVENTS:
            return acks.Outcome("AA", "ignored", reason="message type not used")
        try:
            adt = extract(msg, emergency_locations=self.config.emergency_locations, tz=self.config.timezone,
                          received_at=now)
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

    async def _decide(self, uow, adt: AdtVisit, target: str, message_id, now_visit):
        visit = {**adt.visit, "visit_number": target}
        if adt.trigger in ("A01", "A04", "A08"):
            return await visits.record_visit(uow, visit, rules=self.config.rules, complaints=adt.complaints,
                                             message_id=str(message_id), now=now_visit)
        if adt.trigger in ("A03", "A13"):
            return await visits.record_discharge(uow, visit, adt.event_at, cancelled=adt.trigger == "A13",
                                                 now=now_visit)
        merged_into = adt.visit_number if adt.trigger == "A40" else None
        return await visits.record_cancel(uow, visit, adt.event_at, merged_into, now=now_visit)
