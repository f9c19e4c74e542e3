"""Idempotency-Key on a real PostgreSQL: a repeat replays the stored answer, never acts twice, whatever the timing."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import httpx
import pytest
from fastapi import APIRouter, Depends, HTTPException

from services.runtime.auth import Principal, TokenVerifier, issue_token, require
from services.runtime.clock import FixedClock
from services.runtime.idempotency import RequestScopedPool
from services.runtime.outbox import OutboxRelay
from services.runtime.service import ServiceRuntime, build_app, get_runtime
from services.runtime.settings import CommonSettings
from tests.support.fixtures import TEST_MIGRATIONS

pytestmark = pytest.mark.integration
SECRET = "idempotency-test-secret-of-enough-length"
START = datetime(2030, 1, 1, tzinfo=timezone.utc)  # a fixed clock of the test's own, never today's date


class Harness:
    """A service app with one creating route over the `effects` table, and a gate to hold a request mid-way."""

    def __init__(self, pool):
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()
        self.clock = FixedClock(START)
        runtime = ServiceRuntime("idem", CommonSettings(), migrations=TEST_MIGRATIONS, clock=self.clock)
        runtime.pool = RequestScopedPool(pool)
        router = APIRouter()

        @router.post("/items/{item}", status_code=201)
        async def add(item: int, body: dict, rt: ServiceRuntime = Depends(get_runtime),
                      _who: Principal = Depends(require("admin"))) -> dict:
            if body.get("refuse"):
                raise HTTPException(409, "refused")
            async with rt.unit_of_work() as uow:
                await uow.conn.execute("INSERT INTO effects (item, event_id) VALUES ($1, $2)", item, uuid.uuid4())
            self.entered.set()
            if self.gate is not None:
                await self.gate.wait()
            if body.get("fail_after_write"):
                raise RuntimeError("the handler failed after its write")
            # A read through the pool, as many routes do after their unit of work, sees the request's own write.
            async with rt.pool.acquire() as conn:
                count = await conn.fetchval("SELECT count(*) FROM effects WHERE item = $1", item)
            return {"item": item, "count": count, "note": body.get("note")}

        @router.post("/fhir/Thing", status_code=201)
        async def fhir_thing(_who: Principal = Depends(require("admin"))) -> dict:
            return {"resourceType": "OperationOutcome", "issue": []}

        self.app = build_app(runtime, title="idem", description="test", routers=[router])
        self.app.state.verifier = TokenVerifier(secret=SECRET, issuer="peerbridge-local", audience="peerbridge")
        self.pool = pool

    def client(self, subject: str = "caller-1") -> httpx.AsyncClient:
        token = issue_token(SECRET, role="admin", issuer="peerbridge-local", audience="peerbridge", subject=subject)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app, raise_app_exceptions=False),
                                 base_url="http://test", headers={"Authorization": f"Bearer {token}"})

    async def effects(self, item: int) -> int:
        return await self.pool.fetchval("SELECT count(*) FROM effects WHERE item = $1", item)


@pytest.fixture
async def harness(pool):
    return Harness(pool)


def keyed(key: str | None = None) -> dict:
    return {"Idempotency-Key": key or str(uuid.uuid4())}


async def test_a_repeat_with_the_same_key_replays_the_first_answer_and_acts_once(harness):
    async with harness.client() as client:
        key = keyed()
        first = await client.post("/items/1", json={"note": "a"}, headers=key)
        again = await client.post("/items/1", json={"note": "a"}, headers=key)
        # JSON compared by value: the same body laid out differently is the same request
        relaid = await client.post("/items/1", content=b'{ "note" : "a" }',
                                   headers={**key, "Content-Type": "application/json"})
    assert first.status_code == 201 and first.json() == {"item": 1, "count": 1, "note": "a"}
    assert "idempotent-replayed" not in first.headers
    for repeat in (again, relaid):
        assert (repeat.status_code, repeat.content) == (201, first.content)
        assert repeat.headers["idempotent-replayed"] == "true"
        assert repeat.headers["content-type"] == first.headers["content-type"]
    assert await harness.effects(1) == 1


async def test_without_a_key_or_with_a_new_key_each_request_acts(harness):
    async with harness.client() as client:
        assert (await client.post("/items/2", json={})).status_code == 201
        assert (await client.post("/items/2", json={}, headers=keyed())).status_code == 201
        assert (await client.post("/items/2", json={}, headers=keyed())).status_code == 201
    assert await harness.effects(2) == 3


async def test_the_same_key_for_another_body_or_query_is_422_and_keys_are_per_caller_and_path(harness):
    key = keyed()
    async with harness.client() as client:
        assert (await client.post("/items/3", json={"note": "a"}, headers=key)).status_code == 201
        other_body = await client.post("/items/3", json={"note": "b"}, headers=key)
        other_query = await client.post("/items/3", json={"note": "a"}, params={"x": "1"}, headers=key)
        for refused in (other_body, other_query):
            assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
            assert "Idempotency-Key" in refused.json()["detail"]
        # another resource is another scope: the key acts there once, too
        assert (await client.post("/items/4", json={"note": "a"}, headers=key)).status_code == 201
        assert (await client.post("/items/4", json={"note": "a"}, headers=key)).headers["idempotent-replayed"]
    async with harness.client("caller-2") as client:
        assert (await client.post("/items/3", json={"note": "a"}, headers=key)).status_code == 201
    assert (await harness.effects(3), await harness.effects(4)) == (2, 1)


async def test_a_repeat_while_the_first_is_running_is_409_and_after_it_a_replay(harness):
    harness.gate = asyncio.Event()
    key = keyed()
    async with harness.client() as client:
        first = asyncio.create_task(client.post("/items/5", json={}, headers=key))
        await asyncio.wait_for(harness.entered.wait(), 10)
        during = await client.post("/items/5", json={}, headers=key)
        assert during.status_code == 409 and "still being processed" in during.json()["detail"]
        # the first request's write is not visible, nor acknowledged, before its answer is stored with it
        assert await harness.effects(5) == 0
        harness.gate.set()
        done = await first
        after = await client.post("/items/5", json={}, headers=key)
    assert done.status_code == 201 and (after.status_code, after.content) == (201, done.content)
    assert await harness.effects(5) == 1


async def test_many_concurrent_repeats_act_once(harness):
    key = keyed()
    async with harness.client() as client:
        answers = await asyncio.gather(*(client.post("/items/6", json={}, headers=key) for _ in range(8)))
    assert {a.status_code for a in answers} <= {201, 409}
    fresh = [a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers]
    assert len(fresh) == 1 and await harness.effects(6) == 1


async def test_a_refused_or_failed_request_keeps_nothing_so_its_retry_runs_again(harness):
    key = keyed()
    async with harness.client() as client:
        refused = await client.post("/items/7", json={"refuse": True}, headers=key)
        failed = await client.post("/items/7", json={"fail_after_write": True}, headers=keyed())
        assert (refused.status_code, failed.status_code) == (409, 500)
        assert await harness.effects(7) == 0  # the failed request's write was rolled back with it
        retried = await client.post("/items/7", json={"refuse": True}, headers=key)
    assert retried.status_code == 409 and "idempotent-replayed" not in retried.headers


async def test_a_key_is_kept_48_hours_then_a_request_with_it_acts_again(harness):
    key = keyed()
    async with harness.client() as client:
        await client.post("/items/8", json={}, headers=key)
        harness.clock.advance(hours=47)
        assert (await client.post("/items/8", json={}, headers=key)).headers.get("idempotent-replayed") == "true"
        harness.clock.advance(hours=2)
        assert "idempotent-replayed" not in (await client.post("/items/8", json={}, headers=key)).headers
    assert await harness.effects(8) == 2


async def test_an_unusable_key_is_400_naming_the_header_in_the_route_s_error_format(harness):
    async with harness.client() as client:
        for bad in ("", "x" * 256, "caf\u00e9".encode(), "two words"):
            r = await client.post("/items/9", json={}, headers={"Idempotency-Key": bad})
            assert r.status_code == 400 and "Idempotency-Key" in r.json()["detail"], bad
        assert (await client.post("/items/9", json={}, headers={"Idempotency-Key": '"quoted-uuid-1"'})
                ).status_code == 201
        key = keyed()
        first = await client.post("/fhir/Thing", json={"resourceType": "Thing"}, headers=key)
        clash = await client.post("/fhir/Thing", json={"resourceType": "Other"}, headers=key)
    assert first.status_code == 201
    assert clash.status_code == 422 and clash.json()["resourceType"] == "OperationOutcome"
    assert await harness.effects(9) == 1


async def test_without_a_valid_token_the_route_answers_401_and_no_key_is_kept(harness, pool):
    async with harness.client() as client:
        r = await client.post("/items/10", json={}, headers={**keyed(), "Authorization": "Bearer nonsense"})
    assert r.status_code == 401
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0



async def test_the_relay_forgets_answers_past_their_48_hours_by_the_service_s_clock(harness, pool):
    async with harness.client() as client:
        await client.post("/items/11", json={}, headers=keyed())
        harness.clock.advance(hours=47)
        await client.post("/items/11", json={}, headers=keyed())
    harness.clock.advance(hours=2)  # the first answer is now 49 hours old, the second 2
    await OutboxRelay(pool, None, schema="unused", idempotency_hours=48, clock=harness.clock).prune()
    assert await pool.fetchval("SELECT count(*) FROM idempotency_keys") == 1
