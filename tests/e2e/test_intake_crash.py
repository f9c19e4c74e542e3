"""kill -9 of intake in the middle of a flood: every acknowledged message was already committed; resends apply once."""
from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.intake.mllp import END, START
from tests.support.services import start_services, stop_services
from tests.support.stack import fresh_database
from tests.unit.intake.messages import adt

pytestmark = pytest.mark.e2e
MESSAGES, CONNECTIONS = 2000, 20


async def send_all(port: int, frames: dict[str, bytes], acked: set[str]) -> None:
    """Each connection sends its share one frame at a time, as a sender would; stops when the connection dies."""
    async def connection(ids: list[str]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for control_id in ids:
                writer.write(START + frames[control_id] + END)
                await writer.drain()
                if b"MSA|AA|" + control_id.encode() in await reader.readuntil(END):
                    acked.add(control_id)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    ids = list(frames)
    await asyncio.gather(*(connection(ids[i::CONNECTIONS]) for i in range(CONNECTIONS)))


async def test_every_acknowledged_message_survives_kill_9_and_resends_apply_once(infra, tmp_path):
    async with fresh_database(infra.admin_dsn, prefix="pb_crash") as url:
        stack = start_services(infra.kafka_bootstrap, url, tmp_path, names=("intake",))
        try:
            port = int(stack.env["INTAKE_MLLP_PORT"])
            frames = {f"K{n}": adt("A04", facility="CRASH", visit_number=f"K{n}", control_id=f"K{n}")
                      for n in range(MESSAGES)}
            acked: set[str] = set()
            flood = asyncio.create_task(send_all(port, frames, acked))
            while len(acked) < MESSAGES // 5:
                await asyncio.sleep(0.005)
            stack.procs["intake"].kill()
            stack.procs["intake"].wait()
            await flood

            conn = await asyncpg.connect(url)
            try:
                stored = {r["control_id"] for r in await conn.fetch(
                    "SELECT control_id FROM intake.messages WHERE status = 'accepted'")}
                assert len(acked) < MESSAGES, "the kill should have interrupted the flood"
                assert acked <= stored, "a message was acknowledged before it was committed"

                # The senders resend everything: what was lost, and what was stored but not acknowledged.
                stack.start("intake")
                stack.wait_ready()
                resent: set[str] = set()
                await send_all(port, frames, resent)
                assert resent == set(frames)
                per_visit = await conn.fetch(
                    "SELECT envelope->'data'->>'visit_number' AS visit, count(*) AS n FROM intake.outbox_events"
                    " WHERE envelope->>'type' LIKE '%.EdVisitRegistered' GROUP BY 1")
                assert len(per_visit) == MESSAGES and {r["n"] for r in per_visit} == {1}
            finally:
                await conn.close()
        finally:
            stop_services(stack)
