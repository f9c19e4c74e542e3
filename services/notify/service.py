"""Notify's use cases: who is told what about offers and escalations, on which channel, and what comes next."""
from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from services.contracts import (AlertAcknowledged, FollowUpWindowOpened, MessageStatusChanged, NoPeerAvailable,
                                PeerAssignmentOffered, PeerSupportIndicated)
from services.runtime.outbox import UnitOfWork

from . import metrics, store
from .domain.routing import Contact, on_call, usable
from .domain.templates import case_link, offer_link, reply_code, visit_place
from .settings import NotifySettings

log = structlog.get_logger("notify.service")
EVENT_KINDS = {"offer", "alert", "closed"}  # messages about a visit, announced on notify.delivery.v1


class NotifyService:
    """The use cases, with the settings read once at start-up."""

    def __init__(self, settings: NotifySettings):
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)

    # ---- what pairing and intake announce
    async def visits_indicated(self, events: list[tuple[PeerSupportIndicated, UnitOfWork]]) -> None:
        """Keep where each visit is (location and bay, filtered to place codes), the only visit facts messages use;
        a run of visits with one statement, a visit indicated twice in it keeping its latest place."""
        places = {(v.facility, v.visit_number): visit_place(v) for v, _ in events}
        await store.save_places(events[0][1].conn, places)

    async def offered(self, events: list[tuple[PeerAssignmentOffered, UnitOfWork]]) -> None:
        """Tell each peer, on their first verified channel, once per offer. A run of offers takes three statements
        (what is known of them, the peers' contacts, the offers with their messages) and ends as one at a time
        would: each offer's reply code unlike its peer's other open ones, earlier in the run included."""
        conn = events[0][1].conn
        ids = [str(uuid.UUID(e.assignment_id)) for e, _ in events]
        known = await store.offers_known(conn, sorted({e.specialist_id for e, _ in events}), ids)
        seen = {r["assignment_id"] for r in known}
        taken: dict[str, set[str]] = defaultdict(set)
        for r in known:
            if r["status"] == "offered":
                taken[r["specialist_id"]].add(r["reply_code"])
        fresh = []
        for (e, uow), assignment_id in zip(events, ids):
            if assignment_id in seen:  # recorded before, or earlier in this run: told once
                continue
            seen.add(assignment_id)
            code = reply_code(e.assignment_id, taken[e.specialist_id])
            taken[e.specialist_id].add(code)
            fresh.append((e, uow, assignment_id, code))
        if not fresh:
            return
        contacts = await store.contacts_of_many(conn, "specialist", sorted({e.specialist_id for e, *_ in fresh}))
        offers, messages = [], {}
        for e, uow, assignment_id, code in fresh:
            offers.append({"assignment_id": assignment_id, "specialist_id": e.specialist_id, "facility": e.facility,
                           "visit_number": e.visit_number, "reply_code": code, "offered_at": e.offered_at,
                           "expires_at": e.expires_at})
            contact = self.first_contact(contacts[e.specialist_id])
            if contact is None:
                continue
            context = {"expires_at": e.expires_at.isoformat(), "reply_code": code,
                       "link": offer_link(self.settings.console_base_url, e.assignment_id)}
            if e.crisis:
                context["crisis"] = True
            messages[assignment_id] = {
                "id": store.new_id(), "cause": uow.cause.id, "recipient_id": e.specialist_id,
                "channel": contact.channel, "contact_id": contact.id, "address": contact.address,
                "facility": e.facility, "visit_number": e.visit_number, "assignment_id": assignment_id,
                "context": context, "now": uow.clock.now()}
        recorded = await store.insert_offers(conn, offers, list(messages.values()))
        for e, uow, assignment_id, _ in fresh:
            if assignment_id not in recorded:  # another consumer recorded it first, and told the peer
                continue
            if assignment_id not in messages:
                self.unreachable("offer", ("specialist", e.specialist_id))
                continue
            if recorded[assignment_id] is None:  # this (cause, recipient, channel) was queued before
                continue
            m = messages[assignment_id]
            metrics.MESSAGES.labels(m["channel"], "offer", "queued").inc()
            await self.announce(uow, {**m, "kind": "offer", "recipient_kind": "specialist", "status": "queued",
                                      "attempts": 0, "error_class": None})

    async def offer_closed(self, uow: UnitOfWork, assignment_id: str, status: str) -> None:
        """An offer was answered, expired or withdrawn: stop what was still to go; a peer whose texted accept came
        too late is told the referral is no longer open."""
        now = uow.clock.now()
        before = await store.close_offer(uow.conn, assignment_id, status, now)
        await self.cancel(uow, assignment_id=assignment_id)
        if before is not None and before["reply"] == "accept" and status != "accepted":
            await self.queue(uow, kind="closed", recipient=("specialist", before["specialist_id"]),
                             cause=uow.cause.id, facility=before["facility"], visit_number=before["visit_number"],
                             assignment_id=assignment_id, context={})

    async def visit_covered(self, uow: UnitOfWork, facility: str, visit_number: str) -> None:
        """A peer took the visit (accepted or assigned): its open alerts are settled."""
        for alert in await store.open_alerts(uow.conn, facility=facility, visit_number=visit_number):
            await self.acknowledge(uow, alert, via="api", announce=False)

    async def no_peer(self, uow: UnitOfWork, e: NoPeerAvailable) -> None:
        """Alert the facility's on-call supervisor, and keep alerting until someone acknowledges."""
        now = uow.clock.now()
        supervisor = on_call(e.facility, now, await store.rota(uow.conn, e.facility), self.settings.oncall,
                             e.supervisor)
        repeat = timedelta(minutes=self.settings.alert_repeat_minutes)
        alert_id = await store.insert_alert(uow.conn, event_id=uow.cause.id, facility=e.facility,
                                            visit_number=e.visit_number, case_id=e.case_id, supervisor_id=supervisor,
                                            raised_at=now, next_at=now + repeat if supervisor else None)
        if alert_id is None:
            return
        if supervisor is None:
            metrics.UNREACHABLE.labels("alert", "no-supervisor").inc()
            metrics.UNCOVERED.labels(e.facility).set(1)
            log.error("escalation_unrouted", facility=e.facility)
            return
        await self.queue(uow, kind="alert", recipient=("supervisor", supervisor), cause=uow.cause.id,
                         facility=e.facility, visit_number=e.visit_number, alert_id=alert_id, context={})

    async def follow_up_reminder(self, uow: UnitOfWork, e) -> None:
        """Tell the case's peer a follow-up window opened or closes soon: when it closes and a link, nothing else."""
        kind = "followup-open" if isinstance(e, FollowUpWindowOpened) else "followup-closing"
        await self.queue(uow, kind=kind, recipient=("specialist", e.specialist_id), cause=uow.cause.id,
                         facility=e.facility, visit_number=e.visit_number,
                         context={"expires_at": e.closes_at.isoformat(),
                                  "link": case_link(self.settings.console_base_url, e.case_id)})

    # ---- queueing, in the caller's transaction
    async def queue(self, uow: UnitOfWork, *, kind: str, recipient: tuple[str, str], cause: str, context: dict,
                    facility: str | None = None, visit_number: str | None = None, assignment_id: str | None = None,
                    alert_id: str | None = None, exclude: set[str] = frozenset()) -> str | None:
        """Queue the message on the recipient's most preferred verified channel not in `exclude`."""
        person_kind, person_id = recipient
        contact = self.first_contact(await store.contacts_of(uow.conn, person_kind, person_id), exclude)
        if contact is None:
            self.unreachable(kind, recipient, exclude)
            return None
        row = await store.insert_message(
            uow.conn, cause=cause, kind=kind, recipient_kind=person_kind, recipient_id=person_id,
            channel=contact.channel, contact_id=contact.id, address=contact.address, facility=facility,
            visit_number=visit_number, assignment_id=assignment_id, alert_id=alert_id, context=context,
            now=uow.clock.now())
        if row is None:
            return None
        metrics.MESSAGES.labels(contact.channel, kind, "queued").inc()
        await self.announce(uow, row)
        return str(row["id"])

    def first_contact(self, rows, exclude: set[str] = frozenset()) -> Contact | None:
        """The recipient's most preferred usable contact (of their contact rows, in rank order) not in `exclude`."""
        contacts = usable([store.as_contact(r) for r in rows], log_when_none=self.settings.log_when_no_contact)
        return next((c for c in contacts if c.channel not in exclude), None)

    @staticmethod
    def unreachable(kind: str, recipient: tuple[str, str], exclude: set[str] = frozenset()) -> None:
        person_kind, person_id = recipient
        metrics.UNREACHABLE.labels(kind, "no-verified-contact" if not exclude else "channels-exhausted").inc()
        log.warning("recipient_unreachable", reason_code=kind, role=person_kind, count=len(exclude),
                    specialist_id=person_id if person_kind == "specialist" else None)

    async def announce(self, uow: UnitOfWork, m) -> None:
        """notify.delivery.v1: what became of a message about a visit (never its text or address)."""
        if m["kind"] not in EVENT_KINDS or not m["facility"]:
            return
        await uow.emit(MessageStatusChanged(
            message_id=str(m["id"]), facility=m["facility"], visit_number=m["visit_number"], kind=m["kind"],
            recipient_kind=m["recipient_kind"], recipient_id=m["recipient_id"], channel=m["channel"],
            status=m["status"], at=uow.clock.now(), attempts=m["attempts"], error_class=m["error_class"],
            assignment_id=str(m["assignment_id"]) if m["assignment_id"] else None))

    async def set_status(self, uow: UnitOfWork, m, status: str, **values):
        row = await store.update_message(uow.conn, str(m["id"]), status=status, **values)
        metrics.MESSAGES.labels(row["channel"], row["kind"], status).inc()
        await self.announce(uow, row)
        return row

    async def cancel(self, uow: UnitOfWork, *, assignment_id: str | None = None, alert_id: str | None = None,
                     replied: bool = False) -> None:
        """Messages still to go (or waiting on a receipt) about an offer or alert that is settled."""
        now = uow.clock.now()
        for m in await store.open_messages_of(uow.conn, assignment_id=assignment_id, alert_id=alert_id):
            if m["status"] == "queued":
                await self.set_status(uow, m, "cancelled", fallback_at=None)
            else:
                await store.update_message(uow.conn, str(m["id"]), fallback_at=None)
        if replied:
            for m in await uow.conn.fetch("SELECT * FROM messages WHERE assignment_id = $1 AND kind = 'offer'"
                                          " AND status IN ('sent', 'delivered')", assignment_id):
                await self.set_status(uow, m, "replied", replied_at=now)

    async def acknowledge(self, uow: UnitOfWork, alert, *, via: str, announce: bool = True) -> None:
        now = uow.clock.now()
        await store.set_alert(uow.conn, str(alert["id"]), acked_at=now, acked_via=via, next_at=None)
        await self.cancel(uow, alert_id=str(alert["id"]))
        if announce:
            await uow.emit(AlertAcknowledged(alert_id=str(alert["id"]), facility=alert["facility"],
                                             visit_number=alert["visit_number"],
                                             supervisor=alert["supervisor_id"] or "unknown",
                                             acknowledged_at=now, via=via))

    # ---- coverage: a facility nobody can be escalated to is reported, never silent
    async def coverage(self, conn, now: datetime) -> dict[str, str | None]:
        """Each known facility's reachable on-call supervisor now, or None."""
        facilities = set(self.settings.facilities) | set(await store.known_facilities(conn))
        facilities |= {f for f in self.settings.oncall if f != "*"}
        rota = await store.rota(conn)
        found: dict[str, str | None] = {}
        for facility in sorted(facilities):
            supervisor = on_call(facility, now, rota, self.settings.oncall)
            reachable = supervisor is not None and bool(usable(
                [store.as_contact(r) for r in await store.contacts_of(conn, "supervisor", supervisor)],
                log_when_none=self.settings.log_when_no_contact))
            found[facility] = supervisor if reachable else None
            metrics.UNCOVERED.labels(facility).set(0 if reachable else 1)
        return found
