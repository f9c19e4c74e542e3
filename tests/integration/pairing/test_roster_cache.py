"""Matching keeps the specialists' profiles between roster reads, on real PostgreSQL: a changed profile is read again
before the next offer, whoever changed it, and paging a peer (every offer) reads nothing again."""
from __future__ import annotations

import pytest

from services.pairing import store
from services.pairing.unit_of_work import PgStore

pytestmark = pytest.mark.integration


async def version(harness, specialist_id: str) -> int:
    return await harness.pool.fetchval("SELECT profile_version FROM specialists WHERE id = $1", specialist_id)


@pytest.fixture
def profile_reads(monkeypatch) -> list[list[str]]:
    """The ids of each profile read the service makes."""
    reads: list[list[str]] = []
    real = PgStore.profiles

    async def counted(self, ids):
        reads.append(sorted(ids))
        return await real(self, ids)

    monkeypatch.setattr(PgStore, "profiles", counted)
    return reads


async def test_the_version_changes_with_the_profile_and_not_with_a_page(harness):
    a = await harness.add_peer("a")
    first = await version(harness, a)
    async with harness.uow() as uow:
        await store.mark_paged(uow.conn, a, harness.clock.now())
    assert await version(harness, a) == first
    async with harness.uow() as uow:
        row = await store.get_specialist(uow.conn, a)
        await store.update_specialist(uow.conn, a, {**row["data"], "languages": ["en"]}, None)
    second = await version(harness, a)
    assert second != first
    # A writer that names a version (an old one, say) gets a new one all the same.
    await harness.pool.execute("UPDATE specialists SET profile_version = $2 WHERE id = $1", a, first)
    assert await version(harness, a) not in (first, second)


async def test_offers_read_each_profile_once_until_it_changes(harness, profile_reads):
    a, b = await harness.add_peer("a"), await harness.add_peer("b")
    first = await harness.open_visit()
    second = await harness.open_visit()
    assert profile_reads == [sorted([a, b])]  # the second visit read only the live state
    offered = {str((await harness.assignments(v))[0]["specialist_id"]) for v in (first, second)}
    assert offered == {a, b}  # the first offer's page and load reached the second visit's choice

    # a's certification lapses (PUT /specialists stores it so): the next visit reads a again and offers b.
    async with harness.uow() as uow:
        row = await store.get_specialist(uow.conn, a)
        lapsed = [{**c, "expires_on": "2001-01-01"} for c in row["data"]["certifications"]]
        await store.update_specialist(uow.conn, a, {**row["data"], "certifications": lapsed}, None)
    third = await harness.open_visit()
    assert profile_reads[1:] == [[a]]
    assert [str(r["specialist_id"]) for r in await harness.assignments(third)] == [b]


async def test_a_specialist_added_or_gone_inactive_is_seen_by_the_next_offer(harness, profile_reads):
    a = await harness.add_peer("a", caseload_cap=1)
    await harness.open_visit()  # a is full now
    b = await harness.add_peer("b")
    assert [str(r["specialist_id"]) for r in await harness.assignments(await harness.open_visit())] == [b]
    assert profile_reads == [[a], [b]]
    async with harness.uow() as uow:
        row = await store.get_specialist(uow.conn, b)
        await store.update_specialist(uow.conn, b, {**row["data"], "status": "inactive"}, "leave")
    nobody = await harness.open_visit()
    assert await harness.assignments(nobody) == []
    assert profile_reads[2:] == []  # leaving the roster needs no profile read
