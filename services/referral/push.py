"""The push loop: sends queued referral changes to each facility's FHIR server, consent permitting, with backoff."""
from __future__ import annotations

import httpx
import structlog

from services.runtime.fhir_errors import FHIR_JSON
from services.runtime.loops import Backoff, run_loop

from . import service
from .settings import ReferralSettings
from .smart import SmartAuth, TokenError

log = structlog.get_logger("referral.push")


class Pusher:
    """Works the push_queue through service.push_next, with its HTTP client: one transaction Bundle per change."""

    def __init__(self, runtime, settings: ReferralSettings, *, transport: httpx.AsyncBaseTransport | None = None):
        self.runtime = runtime
        self.settings = settings
        self.endpoints = settings.endpoints()
        self.retry_backoff = Backoff(first=settings.push_backoff_seconds, factor=2.0,
                                     cap=settings.push_max_backoff_seconds)
        self.client = httpx.AsyncClient(transport=transport, timeout=settings.push_timeout_seconds,
                                        headers={"Accept": FHIR_JSON, "Content-Type": FHIR_JSON})
        self.auth = SmartAuth(settings.smart(), runtime.clock, self.client)
        self.swept_at = None  # when expired consents were last looked for (by the injected clock)

    async def run(self) -> None:
        """Push until cancelled; when the database is away the rows stay queued for a later round."""
        try:
            await run_loop(self.push_due, name="push", log=log, failed="push_loop_failed",
                           every=self.settings.push_poll_seconds,
                           backoff=Backoff(first=self.settings.push_poll_seconds, factor=2.0, cap=10.0))
        finally:
            await self.client.aclose()

    async def push_due(self) -> None:
        """End the consents that expired (every `consent_sweep_seconds`), then process every change due now."""
        now = self.runtime.clock.now()
        if self.swept_at is None or (now - self.swept_at).total_seconds() >= self.settings.consent_sweep_seconds:
            await service.expire_consents(self.runtime.pool, self.runtime.clock)
            self.swept_at = now
        while await self.push_one():
            pass

    async def push_one(self) -> bool:
        """Process the oldest due change; False when none is due."""
        return await service.push_next(self.runtime.pool, self.runtime.clock, self.endpoints, self._send,
                                       self.retry_backoff)

    async def _send(self, facility: str, base_url: str, body: bytes) -> tuple[int | None, str | None]:
        """POST the Bundle, with the facility's SMART token when it has a client; a 401 renews it and retries once."""
        for attempt in (1, 2):
            headers = {}
            if self.auth.configured(facility):
                try:
                    token = await self.auth.token(facility)
                except TokenError as exc:
                    return None, f"token: {exc}"  # retried with the push's backoff, like an outage
                headers["Authorization"] = f"Bearer {token}"
            try:
                response = await self.client.post(base_url.rstrip("/"), content=body, headers=headers)
            except httpx.HTTPError as exc:
                return None, type(exc).__name__
            if response.status_code == 401 and attempt == 1 and self.auth.configured(facility):
                # The server no longer takes the token (revoked, rotated keys, its clock ahead of ours): renew it.
                self.auth.forget(facility, token)
                log.info("push_token_refused", facility=facility)
                continue
            break
        return response.status_code, None if response.is_success else f"HTTP {response.status_code}"
