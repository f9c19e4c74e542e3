"""Operator commands find the database and broker the way the services do: DATABASE_URL, or the stack's PG_PORT."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import asyncpg
import pytest

from tests.support.stack import ROOT, own_postgres

pytestmark = pytest.mark.integration


def peerbridge(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.runtime.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def stack_env(**ports: int) -> dict:
    """The environment of an operator shell beside a stack started with non-default ports: no URLs exported."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    return {**env, **{name: str(port) for name, port in ports.items()}}


async def test_migrate_dead_letters_and_intake_replay_reach_the_database_on_the_stacks_pg_port():
    with own_postgres() as server:
        admin = await asyncpg.connect(server.admin_dsn)
        await admin.execute("CREATE DATABASE peerbridge")  # what deploy/local/stack.sh creates
        await admin.close()
        env = stack_env(PG_PORT=server.port)
        migrated = await asyncio.to_thread(peerbridge, env, "migrate", "intake")
        assert migrated.returncode == 0, migrated.stderr
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{server.port}/peerbridge")
        try:
            await conn.execute("INSERT INTO intake.dead_letters (consumer_group, topic, kafka_partition, kafka_offset,"
                               " error_class, raw) VALUES ('intake', 'intake.visit.v1', 2, 41, 'KeyError', '\\x00')")
        finally:
            await conn.close()
        listed = await asyncio.to_thread(peerbridge, env, "dead-letters", "list", "--service", "intake")
        assert listed.returncode == 0, listed.stderr
        assert "intake.visit.v1[2]@41\tKeyError\twaiting" in listed.stdout
        replayed = await asyncio.to_thread(peerbridge, env, "intake", "replay", "--status", "error")
        assert replayed.returncode == 0, replayed.stderr
        assert '{"replayed": 0}' in replayed.stderr
