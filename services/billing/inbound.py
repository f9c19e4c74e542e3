"""Inbound X12 use cases: read a 999, 277CA or 835, store it with its bytes once, and apply it."""
from __future__ import annotations

import asyncio
import gc
import hashlib
import uuid
from dataclasses import dataclass

import structlog

from services.runtime.outbox import UnitOfWork

from . import store_inbound as store
from .domain.ack277 import parse_277ca
from .domain.ack999 import parse_999
from .domain.remit835 import parse_835
from .domain.x12read import Problem, RefusedFile, read
from .validate837 import pyx12_problems

log = structlog.get_logger("billing")


@dataclass(frozen=True)
class Received:
    """A stored inbound file: its id, kind and summary, and whether this call stored it (False: sent before)."""

    file_id: str
    kind: str
    sha256: str
    summary: dict
    created: bool


def parse(raw: bytes, *, structural: bool = False):
    """The file read and parsed by kind (RefusedFile naming segment and reason); pyx12 too when asked."""
    # A large 835 makes a few hundred thousand small objects and no cycles: the cyclic collector, left on, would
    # scan them again and again (about half the parse time of 10,000 claims).
    gc.disable()
    try:
        doc = read(raw)
        parsed = {"999": parse_999, "277CA": parse_277ca, "835": parse_835}[doc.kind](doc)
    finally:
        gc.enable()
    if structural:
        found = pyx12_problems(raw.decode("utf-8").lstrip("\ufeff"))
        if found:
            raise RefusedFile([Problem(0, "", p) for p in found])
    return doc, parsed


async def receive(uow: UnitOfWork, raw: bytes, *, source: str, filename: str | None = None,
                  structural: bool = False) -> Received:
    """Apply a file once: the same bytes again answer what was stored; a bad file is refused, nothing applied."""
    sha = hashlib.sha256(raw).hexdigest()
    await store.lock_sha(uow.conn, sha)
    existing = await store.file_by_sha(uow.conn, sha)
    if existing is not None:
        return Received(str(existing["id"]), existing["kind"], sha, existing["summary"], created=False)
    # Parsing a large 835 is CPU work: off the event loop.
    doc, parsed = await asyncio.to_thread(parse, raw, structural=structural)
    file_id = str(uuid.uuid4())
    now = uow.clock.now()
    # The file row first: remittances refer to it.
    await store.insert_file(uow.conn, file_id=file_id, sha256=sha, kind=doc.kind, source=source, filename=filename,
                            raw=raw, summary={}, received_at=now)
    summary = await _apply(uow, doc.kind, parsed, file_id)
    await uow.conn.execute("UPDATE inbound_files SET summary = $2 WHERE id = $1", file_id, summary)
    await store.mark_refusal_applied(uow.conn, sha, file_id)  # refused before, applied now (e.g. its batch exists)
    log.info("inbound_file_applied", file_id=file_id, kind=doc.kind, source=source)
    return Received(file_id, doc.kind, sha, summary, created=True)


def problem_list(exc: RefusedFile) -> list[dict]:
    """The refusal's reasons as the API answers and stores them."""
    return [{"segment": p.segment, "segment_id": p.segment_id, "reason": p.reason} for p in exc.problems]


async def keep_refused(new_uow, raw: bytes, exc: RefusedFile, *, source: str, filename: str | None = None) -> str:
    """Store a refused file with its reasons (its own transaction: the refused one rolled back); its id."""
    async with new_uow() as uow:
        refusal_id = await store.record_refusal(uow.conn, sha256=hashlib.sha256(raw).hexdigest(), source=source,
                                                filename=filename, raw=raw, problems=problem_list(exc),
                                                at=uow.clock.now())
    log.warning("inbound_file_refused", refusal_id=refusal_id, source=source, problems=len(exc.problems))
    return refusal_id


async def _apply(uow: UnitOfWork, kind: str, parsed: list, file_id: str) -> dict:
    if kind == "999":
        return await _apply_999(uow, parsed, file_id)
    if kind == "277CA":
        return await _apply_277ca(uow, parsed, file_id)
    return await _apply_835(uow, parsed, file_id)


async def _apply_999(uow: UnitOfWork, acks: list, file_id: str) -> dict:
    batches = []
    for ack in acks:
        detail = {"file_id": file_id, **ack.summary()}
        batch = await store.acknowledge_batch(uow.conn, int(ack.group_control_number), ack.status, detail)
        if batch is None:
            raise RefusedFile([Problem(0, "AK1", "AK102 names no batch of ours (our GS06)")])
        batches.append({"batch_id": str(batch["id"]), "status": ack.status, "code": ack.code})
    return {"batches": batches}


async def _apply_277ca(uow: UnitOfWork, acks: list, file_id: str) -> dict:
    rows = [{"claim_number": a.claim_number, "accepted": a.accepted, "payer_claim_number": a.payer_claim_number,
             "ack": {"source": "277CA", "file_id": file_id, **a.summary()}} for a in acks]
    matched = await store.acknowledge_claims(uow.conn, rows)
    return {"accepted": sum(a.accepted for a in acks), "rejected": sum(not a.accepted for a in acks),
            "unmatched": [a.claim_number for a in acks if a.claim_number not in matched]}


async def _apply_835(uow: UnitOfWork, remits: list, file_id: str) -> dict:
    out = []
    for remit in remits:
        remittance_id = await store.insert_remittance(uow.conn, file_id=file_id, remit=remit,
                                                      received_at=uow.clock.now())
        matched = await store.post_claims(uow.conn, remittance_id, remit.claims)
        outcomes = [c.outcome for c in remit.claims]
        out.append({"remittance_id": remittance_id, "payment_amount": str(remit.payment_amount),
                    "claims": len(remit.claims), "matched": matched,
                    **{o: outcomes.count(o) for o in ("paid", "denied", "reversed")}})
    return {"remittances": out}
