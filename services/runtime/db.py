"""asyncpg pools bound to one service schema, and numbered SQL migrations."""
from __future__ import annotations

import hashlib
import re
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import asyncpg
import orjson
import structlog

from .failures import DatabaseUnavailable

log = structlog.get_logger("runtime.db")
RUNTIME_MIGRATIONS = Path(__file__).with_name("migrations")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class MigrationChanged(RuntimeError):
    """An applied migration file was edited afterwards."""


def check_schema_name(schema: str) -> str:
    """Schema names are interpolated into SQL, so only plain identifiers are allowed."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


def _plain(value):
    """What orjson does not write by itself: numpy's scalars (matching's figures) as Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode_json(value) -> str:
    """JSON for a json/jsonb parameter: orjson, several times the standard library's speed on every row written."""
    return orjson.dumps(value, default=_plain).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=encode_json, decoder=orjson.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """What a connection needs when it goes back to the pool beyond asyncpg's own rollback of an open transaction:
    nothing. Our sessions hold no state of their own (settings come with the connection, advisory locks are
    transaction-scoped, listeners remove themselves), so asyncpg's reset query (unlock all, close all, unlisten,
    reset all) would be one more round trip after every transaction."""


async def create_pool(dsn: str, schema: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections see the service schema first."""
    check_schema_name(schema)
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session,
        # Custom plans always: asyncpg prepares every statement, and a generic plan cached while a table was still
        # small (a join against unnest of a batch, say) keeps scanning the whole table once it has grown.
        server_settings={"search_path": f"{schema},public", "application_name": f"peerbridge-{schema}",
                         "plan_cache_mode": "force_custom_plan"},
    )


@asynccontextmanager
async def connection(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection. DatabaseUnavailable when none can be had, or when it was lost while in use: whatever a
    handler raised then (often InterfaceError from a transaction that can no longer roll back) is the outage's."""
    try:
        conn = await pool.acquire()
    except Exception as exc:
        raise DatabaseUnavailable("no database connection") from exc
    try:
        yield conn
    except Exception as exc:
        if conn.is_closed() and not isinstance(exc, DatabaseUnavailable):
            raise DatabaseUnavailable("database connection lost") from exc
        raise
    finally:
        await pool.release(conn)


def _migration_files(directory: Path, namespace: str) -> list[tuple[str, Path]]:
    return [(f"{namespace}:{p.stem}", p) for p in sorted(directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))]


async def migrate(dsn: str, schema: str, service_migrations: Path) -> list[str]:
    """Apply the runtime's and the service's pending migrations to the schema; returns what was applied."""
    check_schema_name(schema)
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        # One migrator per schema at a time, even when several replicas start together.
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"peerbridge-migrate-{schema}")
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(f"SET search_path TO {schema}, public")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), checksum text)"
        )
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        done = {r["version"]: r["checksum"] for r in rows}
        files = _migration_files(RUNTIME_MIGRATIONS, "runtime") + _migration_files(service_migrations, schema)
        for version, path in files:
            sql = path.read_text().replace("{schema}", schema)
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in done:
                if done[version] not in (None, checksum):
                    # Like Flyway: an applied migration that changed means this database and the code disagree.
                    raise MigrationChanged(f"migration {version} changed after it was applied to schema {schema}; "
                                           "add a new migration instead (a local stack: make clean)")
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                                   version, checksum)
            applied.append(version)
            log.info("migration_applied", migration=version, schema=schema)
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"peerbridge-migrate-{schema}")
    finally:
        await conn.close()
    return applied
