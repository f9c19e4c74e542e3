"""Migrations: applied once, in order, and an applied file that was edited afterwards is refused."""
from __future__ import annotations

import uuid

import asyncpg
import pytest

from services.runtime.db import MigrationChanged, migrate

pytestmark = pytest.mark.integration


async def test_migrations_apply_once_and_refuse_an_edited_file(database_url, tmp_path):
    schema = f"mig_{uuid.uuid4().hex[:8]}"
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    first = await migrate(database_url, schema, tmp_path)
    assert first == ["runtime:0001_outbox_inbox", "runtime:0002_outbox_wire_bytes", "runtime:0003_dead_letter_key",
                     "runtime:0004_idempotency_keys", "runtime:0005_outbox_notify_seq",
                     f"{schema}:0001_things"]
    (tmp_path / "0002_more.sql").write_text("ALTER TABLE things ADD COLUMN name text;")
    assert await migrate(database_url, schema, tmp_path) == [f"{schema}:0002_more"]
    assert await migrate(database_url, schema, tmp_path) == []
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id bigint PRIMARY KEY);")
    with pytest.raises(MigrationChanged) as err:
        await migrate(database_url, schema, tmp_path)
    assert "0001_things" in str(err.value)
    conn = await asyncpg.connect(database_url)
    try:
        columns = await conn.fetchval("SELECT count(*) FROM information_schema.columns"
                                      " WHERE table_schema = $1 AND table_name = 'things'", schema)
    finally:
        await conn.close()
    assert columns == 2
