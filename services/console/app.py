"""The console: a server-rendered web app for peers (and, later, supervisors and billers) over the services' APIs."""
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.runtime.clock import Clock
from services.runtime.service import ServiceRuntime, build_app

from . import api, handlers, pages
from .apis import Apis
from .service import ConsoleService
from .settings import ConsoleSettings


def create_app(settings: ConsoleSettings | None = None, clock: Clock | None = None, transport=None) -> FastAPI:
    settings = settings or ConsoleSettings()
    # No topics: the console neither publishes nor consumes; the runtime gives it its schema, pool and health.
    runtime = ServiceRuntime("console", settings, migrations=Path(__file__).with_name("migrations"),
                             handlers=handlers.build(), clock=clock)
    app = build_app(runtime, title="PeerBridge console",
                    description="Web pages for peers, supervisors and billers; calls the other services' APIs "
                                "with the signed-in user's token.", routers=api.routers)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    pages.install(app)
    app.state.settings = settings
    app.state.clock = runtime.clock
    app.state.signing_secret = settings.signing_secret()
    app.state.oidc = settings.oidc_client(transport)
    app.state.apis = Apis({"pairing": settings.pairing_url, "referral": settings.referral_url,
                           "billing": settings.billing_url, "notify": settings.notify_url},
                          settings.api_timeout_seconds, transport)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        async with runtime.lifespan(app):
            app.state.console = ConsoleService(runtime.pool, runtime.clock,
                                               idle=timedelta(minutes=settings.idle_minutes),
                                               lifetime=timedelta(hours=settings.session_hours))
            try:
                yield
            finally:
                await app.state.apis.close()

    app.router.lifespan_context = lifespan
    return app
