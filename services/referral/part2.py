"""Part 2 routes: every attempt to reach a referral is audited in one place, however it ends (42 CFR 2, HIPAA)."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.runtime.auth import AuthError, Principal, authenticate
from services.runtime.fhir_errors import FhirError

from . import audit
from .domain.search import PARAMETERS

PURPOSE = re.compile(r"^[A-Z]{2,16}$")
OUTCOMES = {400: "bad-request", 401: "unauthenticated", 403: "denied", 404: "not-found", 422: "bad-request"}


@dataclass
class Access:
    """What one request reached, filled in by its route as it learns it; written to audit_log when it ends."""

    action: str
    resource_type: str | None = None
    resource_ids: tuple[str, ...] = ()
    referral_id: str | None = None
    outcome: str | None = None     # set when the answer hides the truth (404 for a Task of another facility)


def access(request: Request) -> Access:
    return request.state.access


def declared_purpose(request: Request, who: Principal | None) -> str | None:
    """The X-Purpose-Of-Use code (v3 PurposeOfUse), by default HOPERAT for supervisors, admins and privacy
    officers, else TREAT."""
    purpose = request.headers.get("x-purpose-of-use")
    if purpose is None:
        return None if who is None else "HOPERAT" if who.has("supervisor", "admin", "privacy") else "TREAT"
    return purpose if PURPOSE.match(purpose) else None


def reader(*roles: str):
    """A dependency admitting `roles` that declare a well-formed purpose of use (else 401, 403 or 400)."""

    def check(request: Request, principal: Principal = Depends(authenticate)) -> Principal:
        if not principal.has(*roles):
            raise AuthError(403, f"requires role {' or '.join(roles)}")
        if declared_purpose(request, principal) is None:
            raise StarletteHTTPException(400, "X-Purpose-Of-Use must be a PurposeOfUse code")
        return principal

    return check


class AuditedRoute(APIRoute):
    """A route whose every answer (success, 400, 401, 403, 404, 5xx) leaves one audit record before it is sent.

    The route's name is the audited action. The record holds what the existing trail holds (subject, roles,
    purpose, resource type and ids, referral id, outcome, status), never the path's facility or visit number."""

    def get_route_handler(self):
        handler = super().get_route_handler()
        action = self.name

        async def audited(request: Request):
            request.state.access = Access(action, *_from_path(request.path_params))
            try:
                response = await handler(request)
            except Exception as exc:
                await _record(request, _status(request, exc))
                raise
            await _record(request, response.status_code)
            return response

        return audited


def _from_path(params: dict) -> tuple[str | None, tuple[str, ...]]:
    """Resource type and id as the path names them, kept only when they are one of ours (never free text)."""
    rtype = params.get("rtype") if params.get("rtype") in PARAMETERS else None
    try:
        ids = (str(uuid.UUID(params["rid"])),) if rtype and "rid" in params else ()
    except ValueError:
        ids = ()
    return rtype, ids


def _status(request: Request, exc: Exception) -> int:
    if isinstance(exc, FhirError):
        return exc.status
    if isinstance(exc, AuthError):
        return exc.status
    if isinstance(exc, StarletteHTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 400 if request.url.path.startswith("/fhir/") else 422
    return 500


async def _record(request: Request, status: int) -> None:
    seen = access(request)
    who: Principal | None = getattr(request.state, "principal", None)
    outcome = seen.outcome or ("success" if status < 400 else OUTCOMES.get(status, "failed"))  # 304: success
    entry = audit.AuditRecord(action=seen.action, actor=who.subject if who else "anonymous",
                              actor_role=",".join(sorted(who.roles)) if who else None,
                              purpose=declared_purpose(request, who), outcome=outcome,
                              resource_type=seen.resource_type, resource_ids=seen.resource_ids,
                              referral_id=seen.referral_id, status_code=status)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        await audit.record(conn, entry, runtime.clock.now())
