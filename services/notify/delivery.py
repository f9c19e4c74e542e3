"""The delivery loop: sends queued messages, retries with backoff, falls back to the next channel, repeats alerts."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import asyncpg
import structlog

from services.runtime.clock import Clock
from services.runtime.loops import Backoff, run_loop
from services.runtime.outbox import UnitOfWork, unit_of_work

from . import metrics, store
from .channels import Channel, ChannelError, Outgoing, Sent
from .domain.routing import on_call
from .domain.templates import SUBJECTS, MessageContext, render
from .service import NotifyService

log = structlog.get_logger("notify.delivery")


class DeliveryWorker:
    """Takes due messages (FOR UPDATE SKIP LOCKED), sends them, and records the outcome in the same transaction."""

    def __init__(self, pool: asyncpg.Pool, service: NotifyService, channels: dict[str, Channel], clock: Clock, *,
                 schema: str = "notify"):
        self.pool = pool
        self.schema = schema
        self.service = service
        self.settings = service.settings
        self.channels = channels
        self.clock = clock
        self.retry = Backoff(first=self.settings.retry_seconds, factor=2.0, cap=self.settings.retry_cap_seconds)
        self.wake = asyncio.Event()

    def _uow(self):
        return unit_of_work(self.pool, "notify", clock=self.clock)

    async def step(self) -> int:
        """Send what is due, fall back where a receipt is overdue, repeat unacknowledged alerts; how much was done."""
        done = 0
        while True:
            async with self._uow() as uow:
                due = await store.take_due(uow.conn, self.clock.now(), self.settings.batch)
                # Rendered one after another (one connection), then sent concurrently (no database in between).
                outgoing = [self.render(m, await store.place_of(uow.conn, m["facility"], m["visit_number"])
                                        if m["facility"] else None) for m in due]
                results = await asyncio.gather(*(self._send(m, out) for m, out in zip(due, outgoing)))
                for m, result in zip(due, results):
                    await self._record(uow, m, result)
            done += len(due)
            if len(due) < self.settings.batch:
                break
        async with self._uow() as uow:
            for m in await store.take_fallbacks(uow.conn, self.clock.now(), self.settings.batch):
                await store.update_message(uow.conn, str(m["id"]), fallback_at=None)
                metrics.MESSAGES.labels(m["channel"], m["kind"], "fallback").inc()
                await self.fall_back(uow, m)
                done += 1
        async with self._uow() as uow:
            for alert in await store.due_alerts(uow.conn, self.clock.now(), self.settings.batch):
                await self._repeat(uow, alert)
                done += 1
        return done

    def render(self, m, place) -> Outgoing:
        ctx = m["context"] or {}
        expires = ctx.get("expires_at")
        context = MessageContext(facility=m["facility"] or "", location=place["location"] if place else None,
                                 bed=place["bed"] if place else None,
                                 expires_at=datetime.fromisoformat(expires) if expires else None,
                                 reply_code=ctx.get("reply_code"), link=ctx.get("link"),
                                 crisis=bool(ctx.get("crisis")), route=ctx.get("route"),
                                 credential=ctx.get("credential"),
                                 due_on=date.fromisoformat(ctx["due_on"]) if ctx.get("due_on") else None)
        text = render(m["kind"], context, self.service.zone, repeat=int(ctx.get("repeat", 0)))
        return Outgoing(str(m["id"]), m["kind"], f"{m['recipient_kind']}:{m['recipient_id']}", m["address"], text,
                        subject=f"PeerBridge: {SUBJECTS.get(m['kind'], 'notice')}", link=ctx.get("link"))

    async def _send(self, m, out: Outgoing) -> Sent | ChannelError:
        channel = self.channels.get(m["channel"])
        if channel is None:
            return ChannelError("channel-not-configured", permanent=True)
        started = asyncio.get_running_loop().time()
        metrics.QUEUE_SECONDS.labels(m["channel"]).observe(max(0.0, (self.clock.now() - m["created_at"])
                                                               .total_seconds()))
        try:
            return await channel.send(out)
        except ChannelError as exc:
            return exc
        except Exception as exc:  # a channel's bug must not stop the others: the message is retried, then failed
            return ChannelError(type(exc).__name__)
        finally:
            metrics.SEND_SECONDS.labels(m["channel"]).observe(asyncio.get_running_loop().time() - started)

    async def _record(self, uow: UnitOfWork, m, result: Sent | ChannelError) -> None:
        now = self.clock.now()
        attempts = m["attempts"] + 1
        if isinstance(result, Sent):
            waits = not result.delivered and m["kind"] in ("offer", "alert")
            await self.service.set_status(
                uow, m, "delivered" if result.delivered else "sent", attempts=attempts, sent_at=now,
                delivered_at=now if result.delivered else None, provider_ref=result.provider_ref, error_class=None,
                fallback_at=now + timedelta(seconds=self.settings.fallback_seconds) if waits else None)
            return
        log.warning("send_failed", message_id=str(m["id"]), state=m["channel"], error_class=result.reason,
                    attempt=attempts)
        if result.permanent or attempts >= self.settings.max_attempts:
            failed = await self.service.set_status(uow, m, "failed", attempts=attempts, error_class=result.reason)
            await self.fall_back(uow, failed)
            return
        metrics.MESSAGES.labels(m["channel"], m["kind"], "retried").inc()
        await store.update_message(uow.conn, str(m["id"]), attempts=attempts, error_class=result.reason,
                                   next_attempt_at=now + timedelta(seconds=self.retry.delay(attempts)))

    async def fall_back(self, uow: UnitOfWork, m) -> None:
        """Try the recipient's next channel, while the offer is open or the alert unacknowledged. A verification
        code never moves to another channel: it proves this address only."""
        if m["kind"] not in ("offer", "alert"):
            return
        if m["kind"] == "offer":
            offer = await uow.conn.fetchrow("SELECT status, reply FROM offers WHERE assignment_id = $1",
                                            m["assignment_id"])
            if offer is None or offer["status"] != "offered" or offer["reply"] is not None:
                return
        elif m["kind"] == "alert":
            alert = await store.get_alert(uow.conn, str(m["alert_id"]))
            if alert is None or alert["acked_at"] is not None:
                return
        tried = await store.channels_tried(uow.conn, m["cause"], m["recipient_id"])
        await self.service.queue(uow, kind=m["kind"], recipient=(m["recipient_kind"], m["recipient_id"]),
                                 cause=m["cause"], context=m["context"], facility=m["facility"],
                                 visit_number=m["visit_number"],
                                 assignment_id=str(m["assignment_id"]) if m["assignment_id"] else None,
                                 alert_id=str(m["alert_id"]) if m["alert_id"] else None, exclude=tried)

    async def _repeat(self, uow: UnitOfWork, alert) -> None:
        """Alert again (whoever is on call now), up to the limit."""
        if alert["repeats"] >= self.settings.alert_repeat_limit:
            await store.set_alert(uow.conn, str(alert["id"]), next_at=None)
            metrics.ALERT_REPEATS.labels("gave-up").inc()
            log.error("alert_unacknowledged", facility=alert["facility"])
            return
        now = self.clock.now()
        repeat = alert["repeats"] + 1
        supervisor = on_call(alert["facility"], now, await store.rota(uow.conn, alert["facility"]),
                             self.settings.oncall, alert["supervisor_id"])
        await store.set_alert(uow.conn, str(alert["id"]), repeats=repeat, supervisor_id=supervisor,
                              next_at=now + timedelta(minutes=self.settings.alert_repeat_minutes))
        if supervisor is None:
            metrics.UNREACHABLE.labels("alert", "no-supervisor").inc()
            return
        metrics.ALERT_REPEATS.labels("sent").inc()
        await self.service.queue(uow, kind="alert", recipient=("supervisor", supervisor),
                                 cause=f"alert:{alert['id']}:{repeat}", context={"repeat": repeat},
                                 facility=alert["facility"], visit_number=alert["visit_number"],
                                 alert_id=str(alert["id"]))

    async def listen(self) -> None:
        """Wake the loop when a message is queued (NOTIFY at commit); polling covers a lost connection."""
        channel, wake = f"{self.schema}_messages", (lambda *_: self.wake.set())
        conn = await self.pool.acquire()
        try:
            await conn.add_listener(channel, wake)
            await asyncio.Event().wait()
        finally:
            if not conn.is_closed():
                await conn.remove_listener(channel, wake)
            await self.pool.release(conn)

    async def run(self) -> None:
        log.info("delivery_loop_started")
        await run_loop(self.step, name="notify-delivery", log=log, failed="delivery_failed",
                       every=self.settings.poll_seconds, wake=self.wake,
                       backoff=Backoff(first=self.settings.poll_seconds, factor=2.0, cap=10.0))
