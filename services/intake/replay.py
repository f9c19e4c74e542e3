"""Re-process stored messages by id or status, recording each replay's lineage (python -m services.intake.replay)."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid

import asyncpg

from services.runtime.db import create_pool
from services.runtime.logs import configure_logging
from services.runtime.clock import SystemClock

from . import store
from .feeds import feed_config
from .receiver import Receiver
from .settings import IntakeSettings


async def replay(pool: asyncpg.Pool, receiver: Receiver, *, message_id: str | None = None,
                 status: str | None = None) -> list[dict]:
    """Replays each chosen original message once; a message already applied (itself or a resend) changes nothing."""
    async with pool.acquire() as conn:
        if message_id:
            row = await store.get_message(conn, uuid.UUID(message_id), raw=True)
            rows = [row] if row else []
        else:
            rows = await store.replay_candidates(conn, status)
    results = []
    for row in rows:
        if row["channel"] != "mllp":
            results.append({"message_id": str(row["id"]), "outcome": "skipped", "reason": "only HL7 v2 is replayed"})
            continue
        if "truncated_at" in row["result"]:
            results.append({"message_id": str(row["id"]), "outcome": "skipped",
                            "reason": "only the start of this oversized message was kept"})
            continue
        handled, _batch = await receiver.process(bytes(row["raw"]), replay_of=str(row["id"]))
        for _hdr, outcome, replay_id in handled:
            async with pool.acquire() as conn:
                stored = await store.get_message(conn, replay_id)
            results.append({"message_id": str(row["id"]), "replay_id": str(replay_id), "outcome": outcome.status,
                            "already_applied": bool(stored and stored["result"].get("already_applied"))})
    return results


async def _run(args: argparse.Namespace) -> list[dict]:
    settings = IntakeSettings()
    pool = await create_pool(settings.database_url, "intake", min_size=1, max_size=2)
    try:
        receiver = Receiver(pool, feed_config(settings), SystemClock())
        return await replay(pool, receiver, message_id=args.id, status=args.status)
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    """peerbridge intake replay --id ID | --status error"""
    parser = argparse.ArgumentParser(prog="peerbridge intake replay", description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--id", help="stored message id to replay")
    group.add_argument("--status", choices=["error", "rejected"], help="replay every message with this status")
    args = parser.parse_args(argv)
    if args.id:
        try:
            uuid.UUID(args.id)
        except ValueError:
            parser.error("--id must be a message id (UUID)")
    configure_logging("intake-replay", IntakeSettings().log_level)
    results = asyncio.run(_run(args))
    for result in results:
        print(json.dumps(result))
    print(json.dumps({"replayed": len(results)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
