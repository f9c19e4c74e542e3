"""One MLLP frame in, one ACK out: parse, check, store with its effects in one transaction, then acknowledge."""
from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog

from services.runtime.clock import Clock
from services.runtime.group_commit import GroupCommit

from . import service, store
from .domain import ack as acks
from .domain.adt import AdtVisit, Header, header, salvage_header
from .domain.hl7 import CHARSETS, Hl7ParseError, Message, parse_many
from .domain.hl7_plan import FeedConfig, check_header, dedupe_key, plan_adt, sender_and_control_id
from .metrics import ACK_SECONDS, CONTROL_ID_REUSED, MESSAGES, type_label

log = structlog.get_logger("intake.receiver")
INTERNAL_ERROR = acks.failed("207", "", "internal error; the message is stored and will be replayed")

Handled = tuple[Header | None, acks.Outcome, uuid.UUID]


@dataclass
class Job:
    """One received message, decided as far as it can be without the database, waiting to be stored."""

    row: dict                                  # the messages row, with its status if already final
    header: Header | None
    outcome: acks.Outcome                      # final unless the message changes a visit or is a resend
    adt: AdtVisit | None = None
    target: str = ""                           # the visit the message changes (A40: the merged one)

    @property
    def id(self) -> uuid.UUID:
        return self.row["id"]


class Receiver:
    """Turns frames into stored messages, visit changes and ACKs; concurrent frames share transactions."""

    def __init__(self, pool: asyncpg.Pool, config: FeedConfig, clock: Clock, service: str = "intake", *,
                 batch_max: int = 200, writers: int = 2):
        self.pool = pool
        self.config = config
        self.clock = clock
        self.service = service
        self.group = GroupCommit(self._apply, name="intake-hl7", max_items=batch_max, writers=writers)

    async def close(self) -> None:
        """Let every frame already received be committed."""
        await self.group.close()

    async def process(self, raw: bytes, *, replay_of: str | None = None) -> tuple[list[Handled], bool]:
        """Store and apply every message of a frame; returns what happened to each and whether it was a batch."""
        now = self.clock.now()
        try:
            items, batch = parse_many(raw)
        except Exception as exc:  # Hl7ParseError, or a bug: either way the frame is stored and answered
            items, batch = [exc], False
        jobs = []
        for item in items:
            # A batch's messages are stored one by one, each in its own MSH-18 character set, so a replay reads it
            # as it was sent.
            body = raw if not batch else (item.text().encode(CHARSETS.get(item.charset) or "utf-8", errors="replace")
                                          if isinstance(item, Message) else raw)
            jobs.append(self._job(item, body, now, replay_of))
        try:
            outcomes = await self.group.submit(jobs)
        except Exception as exc:  # a bug or a database fault: keep the frame for replay, tell the sender AE
            outcomes = await self._store_failed(jobs, exc)
        handled = []
        for job, outcome in zip(jobs, outcomes):
            if outcome.control_id_reused:
                CONTROL_ID_REUSED.labels(type_label(job.header.message_type)).inc()
                log.warning("hl7_control_id_reused", message_id=str(job.id),
                            facility=job.header.sending_facility[:64])
            if job.header:
                log.info("hl7_received", message_id=str(job.id), message_type=type_label(job.header.message_type),
                         ack_code=outcome.code, facility=job.header.sending_facility[:64])
            else:
                log.info("hl7_rejected", message_id=str(job.id), reason_code=outcome.error_code)
            handled.append((job.header, outcome, job.id))
        return handled, batch

    async def handle_frame(self, raw: bytes) -> bytes | None:
        """The ACK bytes for a frame (None when the sender asked for none); raises only if nothing could be stored."""
        started = time.perf_counter()
        handled, batch = await self.process(raw)
        return self._reply(handled, batch, started)

    async def handle_oversized(self, head: bytes, size: int, limit: int) -> bytes | None:
        """AR for a frame over the size limit: its start is stored (as rejected) so operators can see who sent what."""
        started = time.perf_counter()
        outcome = acks.rejected("102", "", f"message of {size} bytes is larger than the {limit} bytes this interface"
                                           " accepts")
        row = {"id": uuid.uuid4(), "received_at": self.clock.now(), "channel": "mllp", "raw": head,
               "replay_of": None}
        job = _refused(row, outcome, {"truncated_at": len(head), "size": size})
        [stored] = await self.group.submit([job])
        log.info("hl7_rejected", message_id=str(job.id), reason_code=stored.error_code)
        return self._reply([(job.header, stored, job.id)], False, started)

    def _reply(self, handled: list[Handled], batch: bool, started: float) -> bytes | None:
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

    def _job(self, item: Message | Exception, raw: bytes, now: datetime, replay_of: str | None) -> Job:
        """Everything decidable without the database: refuse (AR, AE), ignore, or the visit it changes.

        Never raises: a message that cannot be read for any reason is still stored and answered."""
        row = {"id": uuid.uuid4(), "received_at": now, "channel": "mllp", "raw": raw, "replay_of": replay_of}
        if isinstance(item, Hl7ParseError):
            return _refused(row, acks.rejected(item.code, item.location, item.reason))
        try:
            if isinstance(item, Exception):
                raise item
            return self._decide(item, row, now)
        except Exception as exc:  # a bug, not the sender's fault: AE 207 and kept as an error to replay once fixed
            log.error("hl7_processing_failed", error_class=type(exc).__name__)
            return _refused(row, INTERNAL_ERROR, {"error_class": type(exc).__name__})

    def _decide(self, item: Message, row: dict, now: datetime) -> Job:
        hdr = header(item)
        row.update(sending_app=hdr.sending_app, sending_facility=hdr.sending_facility, control_id=hdr.control_id,
                   message_type=hdr.message_type[:40], version=hdr.version[:10])
        plan = check_header(hdr, self.config) or plan_adt(item, hdr, self.config, now)
        if isinstance(plan, acks.Outcome) and plan.status != "ignored":
            return Job(_final(row, plan), hdr, plan)
        # Accepted and ignored messages claim their sender's control id, so a resend is recognised.
        row.update(ack_code="AA", dedupe_key=dedupe_key(hdr, row["raw"]))
        if isinstance(plan, acks.Outcome):
            return Job({**row, "status": "ignored", "result": {"reason": plan.reason}}, hdr, plan)
        adt, target = plan
        row.update(status="accepted", result={"visit_number": target, "ed": adt.is_ed})
        return Job(row, hdr, acks.ACCEPTED, adt, target)

    async def _apply(self, groups: list[list[Job]]) -> list[list[acks.Outcome]]:
        """One transaction for many frames: store every message, apply the visit changes in arrival order."""
        jobs = [job for group in groups for job in group]
        outcomes: dict[uuid.UUID, acks.Outcome] = {}
        async with service.changes(self.pool, self.service, self.clock) as book:
            await book.load((job.adt.facility, job.target) for job in jobs if job.adt)
            stored = await store.insert_messages(book.uow.conn, _flag_reuse_within(jobs))
            not_ed, resent = [], []
            for job in jobs:
                if job.row.get("dedupe_key") and job.id not in stored:
                    resent.append(job)
                    continue
                if job.adt is None:
                    outcomes[job.id] = job.outcome
                elif await service.apply_adt(book, job.adt, job.target, rules=self.config.rules, message_id=job.id,
                                             received_at=job.row["received_at"]):
                    outcomes[job.id] = acks.ACCEPTED
                else:
                    not_ed.append(job.id)
                    outcomes[job.id] = acks.IGNORED
                if stored.get(job.id):
                    outcomes[job.id] = dataclasses.replace(outcomes[job.id], control_id_reused=True)
            await store.mark_ignored(book.uow.conn, not_ed, {"reason": "not an ED visit"})
            if resent:
                outcomes.update(await self._resent(book.uow.conn, resent))
        return [[outcomes[job.id] for job in group] for group in groups]

    async def _resent(self, conn: asyncpg.Connection, jobs: list[Job]) -> dict[uuid.UUID, acks.Outcome]:
        """A resend is acknowledged as the first time; a replay of an applied message is recorded as such."""
        originals = [job for job in jobs if job.row["replay_of"] is None]
        held = await store.count_duplicates(conn, [job.row["dedupe_key"] for job in originals], self.clock.now())
        outcomes = {}
        for job in jobs:
            seen = held.get(job.row["dedupe_key"]) or await store.find_claimed(conn, job.row["dedupe_key"])
            if seen is None:  # the holder vanished since the claim: fail the transaction, the retry stores it
                raise RuntimeError("dedupe key holder not found")
            outcomes[job.id] = acks.Outcome(seen["ack_code"], seen["status"])
            if job.row["replay_of"] is not None:
                await store.insert_message(conn, {**job.row, "status": seen["status"], "ack_code": seen["ack_code"],
                                                  "dedupe_key": None, "result": {"already_applied": str(seen["id"])}})
        return outcomes

    async def _store_failed(self, jobs: list[Job], exc: Exception) -> list[acks.Outcome]:
        """Keep messages whose processing failed, as errors to replay; raises if even that is impossible."""
        log.error("hl7_processing_failed", error_class=type(exc).__name__)
        outcomes = [job.outcome if job.adt is None and job.outcome.status != "ignored" else INTERNAL_ERROR
                    for job in jobs]
        async with self.pool.acquire() as conn:
            for job, final in zip(jobs, outcomes):
                await store.insert_message(conn, {**_final(job.row, final), "result": {"error_class":
                                                                                      type(exc).__name__}})
        return outcomes

def _flag_reuse_within(jobs: list[Job]) -> list[dict]:
    """The rows to store, each flagged when an earlier message of the same transaction took its sender's control id
    with different content (the store flags reuse of ids taken by earlier transactions)."""
    holders: dict[str, str] = {}
    rows = []
    for job in jobs:
        key = job.row.get("dedupe_key")
        reused = bool(key) and holders.setdefault(sender_and_control_id(key), key) != key
        rows.append({**job.row, "control_id_reused": reused})
    return rows


def _refused(row: dict, outcome: acks.Outcome, result: dict | None = None) -> Job:
    """A message we could not read: stored as refused, named by whatever a naive read of its header finds."""
    salvaged = salvage_header(row["raw"])
    if salvaged:
        row = {**row, "sending_app": salvaged.sending_app, "sending_facility": salvaged.sending_facility,
               "control_id": salvaged.control_id}
    return Job({**_final(row, outcome), "result": result or {}}, salvaged, outcome)


def _final(row: dict, outcome: acks.Outcome) -> dict:
    """A message row whose status is already known (refused or failed): never claims a dedupe key."""
    return {**row, "status": outcome.status, "ack_code": outcome.code, "error": outcome.detail(), "result": {},
            "dedupe_key": None}
