"""Pairing's migration 0004: a specialist's free-text background leaves the record, not the database."""
from __future__ import annotations

import shutil
import uuid

import asyncpg
import pytest

from services.runtime.db import migrate
from tests.integration.pairing.conftest import MIGRATIONS

pytestmark = pytest.mark.integration


async def test_the_free_text_background_is_kept_aside_and_the_record_gets_empty_codes(database_url, tmp_path):
    schema = f"pairing_{uuid.uuid4().hex[:10]}"
    for path in sorted(MIGRATIONS.glob("000[123]_*.sql")):
        shutil.copy(path, tmp_path)
    await migrate(database_url, schema, tmp_path)
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        await conn.execute("INSERT INTO specialists (id, npi, status, data) VALUES ($1, '1234567893', 'active',"
                           " $2::jsonb)", uuid.uuid4(),
                           '{"name": "Maria", "npi": "1234567893", "cultural_background": ["latina"]}')
        await conn.execute("INSERT INTO specialists (id, npi, status, data) VALUES ($1, '1245319599', 'active',"
                           " $2::jsonb)", uuid.uuid4(), '{"name": "Sam", "npi": "1245319599"}')
        # 0004 first; later migrations (0005, 0006, ...) follow it
        assert (await migrate(database_url, schema, MIGRATIONS))[0] == f"{schema}:0004_case_preferences"
        rows = {r["name"]: r for r in await conn.fetch(
            "SELECT data->>'name' AS name, data::text AS data, retired_fields::text AS retired FROM specialists")}
    finally:
        await conn.close()
    assert '"cultural_background"' not in rows["Maria"]["data"]
    assert '"race": []' in rows["Maria"]["data"] and '"ethnicity": []' in rows["Maria"]["data"]
    assert rows["Maria"]["retired"] == '{"cultural_background": ["latina"]}'
    assert rows["Sam"]["retired"] == "{}"
