"""SQL for the console's schema: accounts and sessions (asyncpg)."""
from __future__ import annotations

from datetime import datetime

import asyncpg

Conn = asyncpg.Connection | asyncpg.Pool


async def upsert_account(conn: Conn, *, username: str, display_name: str, password_hash: str, roles: list[str],
                         specialist_id: str | None, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO accounts (username, display_name, password_hash, roles, specialist_id, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO UPDATE SET display_name = $2,"
        " password_hash = $3, roles = $4, specialist_id = $5", username, display_name, password_hash, roles,
        specialist_id, now)


async def get_account(conn: Conn, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM accounts WHERE username = $1", username)


async def set_password_hash(conn: Conn, username: str, password_hash: str) -> None:
    await conn.execute("UPDATE accounts SET password_hash = $2 WHERE username = $1", username, password_hash)


async def insert_session(conn: Conn, id_hash: str, username: str, csrf: str, now: datetime,
                         api_token: str | None = None, api_token_expires_at: datetime | None = None) -> None:
    await conn.execute("INSERT INTO sessions (id_hash, username, csrf, created_at, last_seen_at, api_token,"
                       " api_token_expires_at) VALUES ($1, $2, $3, $4, $4, $5, $6)", id_hash, username, csrf, now,
                       api_token, api_token_expires_at)


async def insert_login(conn: Conn, state: str, nonce: str, verifier: str, next_path: str, now: datetime) -> None:
    await conn.execute("INSERT INTO oidc_logins (state, nonce, verifier, next_path, created_at)"
                       " VALUES ($1, $2, $3, $4, $5)", state, nonce, verifier, next_path, now)


async def take_login(conn: Conn, state: str, since: datetime) -> asyncpg.Record | None:
    """The sign-in under way with this state, used once (and old ones swept)."""
    await conn.execute("DELETE FROM oidc_logins WHERE created_at < $1", since)
    return await conn.fetchrow("DELETE FROM oidc_logins WHERE state = $1 RETURNING *", state)


async def get_session(conn: Conn, id_hash: str) -> asyncpg.Record | None:
    """The session with its account's roles and specialist."""
    return await conn.fetchrow(
        "SELECT s.id_hash, s.csrf, s.created_at, s.last_seen_at, s.api_token, s.api_token_expires_at, a.username,"
        " a.display_name, a.roles, a.specialist_id FROM sessions s JOIN accounts a USING (username)"
        " WHERE s.id_hash = $1", id_hash)


async def touch_session(conn: Conn, id_hash: str, now: datetime) -> None:
    await conn.execute("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1", id_hash, now)


async def delete_session(conn: Conn, id_hash: str) -> None:
    await conn.execute("DELETE FROM sessions WHERE id_hash = $1", id_hash)


async def delete_stale_sessions(conn: Conn, idle_before: datetime, created_before: datetime) -> int:
    status = await conn.execute("DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2",
                                idle_before, created_before)
    return int(status.split()[-1])
