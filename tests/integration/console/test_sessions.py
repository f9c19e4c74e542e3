"""The console's accounts and sessions on PostgreSQL: argon2 hashes, sign-in, idle timeout, lifetime, sign-out."""
from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from services.console import store
from services.console.service import ConsoleService, SignInFailed, hash_cookie
from services.runtime.clock import FixedClock
from services.runtime.db import create_pool, migrate
from tests.support.when import now

pytestmark = pytest.mark.integration
MIGRATIONS = Path(store.__file__).with_name("migrations")
SPECIALIST = str(uuid.uuid4())


@pytest.fixture
async def console(database_url):
    schema = f"console_{uuid.uuid4().hex[:10]}"
    await migrate(database_url, schema, MIGRATIONS)
    pool = await create_pool(database_url, schema, min_size=1, max_size=2)
    clock = FixedClock(now())
    service = ConsoleService(pool, clock, idle=timedelta(minutes=30), lifetime=timedelta(hours=12))
    await service.add_account("ana", "correct horse", roles=["peer"], display_name="Ana", specialist_id=SPECIALIST)
    yield service, clock, pool
    await pool.close()


async def test_the_password_is_kept_as_an_argon2id_hash_and_signs_in_a_peer_bound_to_the_specialist(console):
    service, _clock, pool = console
    stored = await store.get_account(pool, "ana")
    assert stored["password_hash"].startswith("$argon2id$") and "correct horse" not in stored["password_hash"]
    cookie, session = await service.sign_in("ana", "correct horse")
    assert session.roles == ("peer",) and session.specialist_id == SPECIALIST and len(session.csrf) >= 32
    # the table keeps only a hash of the cookie: a copy of the row is not a way in
    assert await store.get_session(pool, cookie) is None
    assert (await store.get_session(pool, hash_cookie(cookie)))["username"] == "ana"


@pytest.mark.parametrize("username, password", [("ana", "wrong"), ("nobody", "correct horse"), ("ana", "")])
async def test_a_wrong_password_or_unknown_user_is_refused_alike(console, username, password):
    service, _clock, _pool = console
    with pytest.raises(SignInFailed):
        await service.sign_in(username, password)


async def test_a_session_ends_after_the_idle_time_but_each_page_keeps_it_alive(console):
    service, clock, _pool = console
    cookie, _ = await service.sign_in("ana", "correct horse")
    clock.advance(minutes=25)
    assert await service.session(cookie) is not None  # a page: counts as activity
    clock.advance(minutes=25)
    assert await service.session(cookie) is not None
    clock.advance(minutes=31)
    assert await service.session(cookie) is None
    clock.advance(seconds=1)
    assert await service.session(cookie) is None  # deleted, not only refused


async def test_the_now_lists_polling_does_not_hold_a_session_open(console):
    service, clock, _pool = console
    cookie, _ = await service.sign_in("ana", "correct horse")
    for _ in range(5):
        clock.advance(minutes=5)
        assert await service.session(cookie, touch=False) is not None
    clock.advance(minutes=6)  # 31 minutes after the last page, however often the list asked meanwhile
    assert await service.session(cookie, touch=False) is None


async def test_a_session_ends_twelve_hours_after_sign_in_however_busy(console):
    service, clock, _pool = console
    cookie, _ = await service.sign_in("ana", "correct horse")
    for _ in range(12 * 4):
        clock.advance(minutes=15)
        session = await service.session(cookie)
    assert session is not None
    clock.advance(minutes=1)
    assert await service.session(cookie) is None


async def test_sign_out_ends_the_session_and_other_sessions_stay(console):
    service, _clock, _pool = console
    phone, session = await service.sign_in("ana", "correct horse")
    tablet, _ = await service.sign_in("ana", "correct horse")
    await service.sign_out(session)
    assert await service.session(phone) is None
    assert await service.session(tablet) is not None


async def test_a_peer_account_must_be_bound_to_a_specialist_and_roles_must_be_known(console):
    service, _clock, _pool = console
    with pytest.raises(ValueError, match="specialist"):
        await service.add_account("bo", "pw", roles=["peer"], display_name="Bo")
    with pytest.raises(ValueError, match="roles"):
        await service.add_account("bo", "pw", roles=["root"], display_name="Bo")
