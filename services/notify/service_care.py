"""Notify's care use cases (issue 14): a crisis hand-off told to the route and the on-call supervisor, and
credential renewal warnings told to the peer's supervisor. Ids, route and dates only: never the patient."""
from __future__ import annotations

import structlog

from services.contracts.pairing import CredentialRenewalDue, CrisisRaised
from services.runtime.outbox import UnitOfWork

from . import store
from .domain.routing import on_call
from .service import NotifyService

log = structlog.get_logger("notify.care")


def case_link(base_url: str, case_id: str) -> str:
    return f"{base_url.rstrip('/')}/peer/cases/{case_id}"


async def crisis_raised(service: NotifyService, uow: UnitOfWork, e: CrisisRaised) -> None:
    """Reach the crisis route's responder (when it names one), the facility's on-call supervisor, and the peer
    holding the case; each once, however often the event is delivered (the message key is the event)."""
    context = {"route": e.route, "link": case_link(service.settings.console_base_url, e.case_id)}
    common = {"cause": uow.cause.id, "facility": e.facility, "visit_number": e.visit_number, "context": context}
    if e.contact:
        await service.queue(uow, kind="crisis", recipient=("responder", e.contact), **common)
    supervisor = on_call(e.facility, uow.clock.now(), await store.rota(uow.conn, e.facility),
                         service.settings.oncall, e.supervisor)
    if supervisor:
        await service.queue(uow, kind="crisis", recipient=("supervisor", supervisor), **common)
    if e.specialist_id and e.raised_by != "peer":
        await service.queue(uow, kind="crisis", recipient=("specialist", e.specialist_id), **common)
    if not e.contact and not supervisor:
        log.error("crisis_unrouted", facility=e.facility, route=e.route)


async def renewal_due(service: NotifyService, uow: UnitOfWork, e: CredentialRenewalDue) -> None:
    """Warn the peer's supervisor (else the standing on-call default) that a credential falls due."""
    supervisor = e.supervisor or service.settings.oncall.get("*")
    if supervisor is None:
        log.warning("renewal_unrouted", specialist_id=e.specialist_id)
        return
    await service.queue(uow, kind="renewal", recipient=("supervisor", supervisor), cause=uow.cause.id,
                        context={"credential": e.credential, "due_on": e.due_on.isoformat()})
