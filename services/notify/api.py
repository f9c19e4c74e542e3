"""Notify's HTTP routes: contacts and their verification, the on-call rota, message status, alerts."""
from __future__ import annotations

import uuid
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.runtime.auth import Principal, require
from services.runtime.responses import problems
from services.runtime.service import ServiceRuntime, get_runtime
from services.runtime.web import uuid_or_404

from . import store
from .domain.routing import on_call
from .models import (Accepted, AlertRead, CodeIn, ContactRead, ContactsIn, MessageRead, OnCallIn, OnCallRead,
                     VerificationIn)
from .service_replies import Replies

router = APIRouter(responses=problems(401, 403))
ANYONE = require("peer", "supervisor", "admin")
LEADS = require("supervisor", "admin")
Kind = Literal["specialist", "supervisor", "responder"]  # responder: a crisis route (issue 14)
# Channels a person registers from an authenticated session (the app's push subscription, an admin's paging
# webhook) need no code; a phone number or an email address does, before anything is sent to it.
SELF_PROVEN = {"push", "webhook"}


def replies(request: Request) -> Replies:
    return request.app.state.replies


def _iso(v):
    return v.isoformat() if v else None


def may_edit(who: Principal, kind: str, person_id: str) -> None:
    """A peer edits their own contacts; supervisors and admins anyone's."""
    if who.has("supervisor", "admin"):
        return
    if kind != "specialist" or who.specialist_id != person_id:
        raise HTTPException(404, "no such person")


def contact_json(row) -> ContactRead:
    return ContactRead(channel=row["channel"], address=row["address"], rank=row["rank"],
                       verified=row["verified_at"] is not None)


@router.put("/contacts/{kind}/{person_id}", tags=["contacts"], summary="A person's channels, in preference order",
            description="Replaces the list; a contact kept keeps its verification. SMS and email contacts must be "
                        "verified with a one-time code before anything is sent to them; push subscriptions and "
                        "webhooks are verified by being registered. Sending the same list again changes nothing.",
            responses=problems(400, 404, 422))
async def put_contacts(kind: Kind, person_id: str, body: ContactsIn, runtime: ServiceRuntime = Depends(get_runtime),
                       who: Principal = Depends(ANYONE)) -> list[ContactRead]:
    may_edit(who, kind, person_id)
    channels = [c.model_dump() for c in body.channels]
    if not who.has("supervisor", "admin") and any(c["channel"] == "webhook" for c in channels):
        # A webhook is trusted on registration and receives every page: the hospital's paging platform, set up by
        # its administrators, not an address a peer chooses.
        raise HTTPException(422, "channels: only a supervisor or an admin registers a paging webhook")
    if len({(c["channel"], c["address"]) for c in channels}) != len(channels):
        raise HTTPException(422, "channels: the same address is listed twice")
    async with runtime.unit_of_work() as uow:
        await store.replace_contacts(uow.conn, kind, person_id, channels, uow.clock.now(), SELF_PROVEN)
        rows = await store.contacts_of(uow.conn, kind, person_id)
    return [contact_json(r) for r in rows]


@router.get("/contacts/{kind}/{person_id}", tags=["contacts"], summary="A person's channels",
            responses=problems(400, 404, 422))
async def get_contacts(kind: Kind, person_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                       who: Principal = Depends(ANYONE)) -> list[ContactRead]:
    may_edit(who, kind, person_id)
    async with runtime.pool.acquire() as conn:
        return [contact_json(r) for r in await store.contacts_of(conn, kind, person_id)]


async def _contact(uow, kind, person_id, body):
    row = await store.find_contact(uow.conn, kind, person_id, body.channel, body.address, lock=True)
    if row is None:
        raise HTTPException(404, "no such contact")
    return row


@router.post("/contacts/{kind}/{person_id}/verification", status_code=202, tags=["contacts"],
             summary="Send a one-time code to an SMS or email contact",
             description="At most one code a minute per contact: a repeat within the minute sends nothing more.",
             responses=problems(400, 404, 422))
async def start_verification(kind: Kind, person_id: str, body: VerificationIn,
                             runtime: ServiceRuntime = Depends(get_runtime), who: Principal = Depends(ANYONE),
                             r: Replies = Depends(replies)) -> Accepted:
    may_edit(who, kind, person_id)
    async with runtime.unit_of_work() as uow:
        contact = await _contact(uow, kind, person_id, body)
        if contact["verified_at"] is not None:
            return Accepted(status="verified")
        sent = await r.start_verification(uow, contact)
    return Accepted(status="sent" if sent else "sent-recently")


@router.post("/contacts/{kind}/{person_id}/verify", tags=["contacts"], summary="Confirm a contact with its code",
             responses=problems(400, 404, 422))
async def verify(kind: Kind, person_id: str, body: CodeIn, runtime: ServiceRuntime = Depends(get_runtime),
                 who: Principal = Depends(ANYONE), r: Replies = Depends(replies)) -> Accepted:
    may_edit(who, kind, person_id)
    async with runtime.unit_of_work() as uow:
        refused = await r.verify(uow, await _contact(uow, kind, person_id, body), body.code)
    if refused:  # after the commit, so the failed try counts
        raise HTTPException(422, f"code: {refused}")
    return Accepted(status="verified")


@router.put("/oncall/{facility}", tags=["on-call"], summary="The facility's on-call rota (replaces it)",
            responses=problems(400, 404, 422))
async def put_rota(facility: str, body: list[OnCallIn], runtime: ServiceRuntime = Depends(get_runtime),
                   _who: Principal = Depends(LEADS)) -> OnCallRead:
    async with runtime.unit_of_work() as uow:
        await store.replace_rota(uow.conn, facility, [e.model_dump() for e in body])
        return await _rota(uow.conn, request_app_settings(runtime), facility, uow.clock.now())


@router.get("/oncall/{facility}", tags=["on-call"], summary="Who is on call for the facility now, and the rota",
            responses=problems(400, 404))
async def get_rota(facility: str, runtime: ServiceRuntime = Depends(get_runtime),
                   _who: Principal = Depends(LEADS)) -> OnCallRead:
    async with runtime.pool.acquire() as conn:
        return await _rota(conn, request_app_settings(runtime), facility, runtime.clock.now())


def request_app_settings(runtime: ServiceRuntime):
    return runtime.settings


async def _rota(conn, settings, facility: str, now) -> OnCallRead:
    rows = await store.rota(conn, facility)
    entries = [{"supervisor_id": r["supervisor_id"], "starts_at": _iso(r["starts_at"]), "ends_at": _iso(r["ends_at"])}
               for r in rows]
    return OnCallRead(facility=facility, on_call_now=on_call(facility, now, rows, settings.oncall), rota=entries)


def message_json(m) -> MessageRead:
    return MessageRead(
        id=str(m["id"]), kind=m["kind"], recipient_kind=m["recipient_kind"], recipient_id=m["recipient_id"],
        channel=m["channel"], status=m["status"], attempts=m["attempts"], facility=m["facility"],
        visit_number=m["visit_number"], assignment_id=str(m["assignment_id"]) if m["assignment_id"] else None,
        alert_id=str(m["alert_id"]) if m["alert_id"] else None, error_class=m["error_class"],
        created_at=_iso(m["created_at"]), sent_at=_iso(m["sent_at"]), delivered_at=_iso(m["delivered_at"]),
        replied_at=_iso(m["replied_at"]))


@router.get("/messages", tags=["messages"], summary="Messages about a visit or an offer, and what became of each",
            responses=problems(400, 422))
async def list_messages(facility: str | None = None, visit_number: str | None = None,
                        assignment_id: str | None = None, limit: int = Query(100, ge=1, le=1000),
                        runtime: ServiceRuntime = Depends(get_runtime),
                        _who: Principal = Depends(LEADS)) -> list[MessageRead]:
    if assignment_id is not None:
        try:
            assignment_id = str(uuid.UUID(assignment_id))
        except ValueError:
            return []  # no assignment has such an id: nothing matches the filter
    async with runtime.pool.acquire() as conn:
        rows = await store.list_messages(conn, facility=facility, visit_number=visit_number,
                                         assignment_id=assignment_id, limit=limit)
    return [message_json(m) for m in rows]


@router.get("/messages/{message_id}", tags=["messages"], summary="One message's status", responses=problems(400, 404))
async def read_message(message_id: str, runtime: ServiceRuntime = Depends(get_runtime),
                       _who: Principal = Depends(LEADS)) -> MessageRead:
    async with runtime.pool.acquire() as conn:
        m = await store.get_message(conn, uuid_or_404(message_id))
    if m is None or m["kind"] == "verify":
        raise HTTPException(404, "no such message")
    return message_json(m)


def alert_json(a) -> AlertRead:
    return AlertRead(id=str(a["id"]), facility=a["facility"], visit_number=a["visit_number"],
                     supervisor_id=a["supervisor_id"], raised_at=_iso(a["raised_at"]), repeats=a["repeats"],
                     acked_at=_iso(a["acked_at"]), acked_via=a["acked_via"])


@router.get("/alerts", tags=["alerts"], summary="Supervisor alerts, newest first", responses=problems(400, 422))
async def list_alerts(facility: str | None = None, open: bool = False, limit: int = Query(100, ge=1, le=1000),
                      runtime: ServiceRuntime = Depends(get_runtime),
                      _who: Principal = Depends(LEADS)) -> list[AlertRead]:
    async with runtime.pool.acquire() as conn:
        return [alert_json(a) for a in await store.list_alerts(conn, facility=facility, open_only=open, limit=limit)]


@router.post("/alerts/{alert_id}/ack", tags=["alerts"], summary="Acknowledge an alert: its reminders stop",
             description="Acknowledging again answers 200 with the first acknowledgement and changes nothing.",
             responses=problems(400, 404))
async def ack_alert(alert_id: str, request: Request, runtime: ServiceRuntime = Depends(get_runtime),
                    _who: Principal = Depends(LEADS)) -> AlertRead:
    async with runtime.unit_of_work() as uow:
        alert = await store.get_alert(uow.conn, uuid_or_404(alert_id), lock=True)
        if alert is None:
            raise HTTPException(404, "no such alert")
        if alert["acked_at"] is None:
            await request.app.state.service.acknowledge(uow, alert, via="api")
            alert = await store.get_alert(uow.conn, str(alert["id"]))
    return alert_json(alert)
