"""The web layer's plumbing: templates, the session cookie, CSRF, and the exceptions that become pages."""
from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from .apis import ApiUnavailable, Answer
from .domain import words
from .service import Session, same_token, token_for

COOKIE = "pb_session"
PRE_COOKIE = "pb_signin"  # double-submit CSRF token of the sign-in form, before there is a session
POLL_HEADER = "x-console-poll"  # the Now list's polling: not a sign of life, so it does not hold a session open
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
# Each form gets its own Idempotency-Key when the page is drawn: a retry of that form repeats it, another form
# (decline after accept, say) is another action.
TEMPLATES.env.globals.update(words=words, new_key=lambda: str(uuid.uuid4()))


class SignInRequired(Exception):
    """No live session: the page sends the browser to sign-in and back."""

    def __init__(self, path: str, expired: bool = False):
        self.path, self.expired = path, expired


class Forbidden(Exception):
    """Signed in, but not in a role that may see this page, or a form without its CSRF token."""

    def __init__(self, detail: str):
        self.detail = detail


def safe_next(path: str | None) -> str:
    """Only a path of this site (no scheme, no //host) is a place to return to after sign-in."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return ""


async def signed_in(request: Request) -> Session:
    console = request.app.state.console
    cookie = request.cookies.get(COOKIE)
    session = await console.session(cookie, touch=POLL_HEADER not in request.headers)
    if session is None:
        raise SignInRequired(request.url.path, expired=bool(cookie))
    request.state.session = session
    return session


def role(name: str):
    """A dependency admitting signed-in users who hold `name` (or admin)."""

    async def check(session: Session = Depends(signed_in)) -> Session:
        if not session.has(name):
            raise Forbidden(f"This page is for the {name} role.")
        return session

    return check


async def form_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def check_csrf(session: Session, form: dict[str, str]) -> None:
    if not same_token(form.get("csrf"), session.csrf):
        raise Forbidden("This form has expired or did not come from this site. Go back, reload and try again.")


def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    base = {"session": session, "csrf": session.csrf if session else "",
            "poll_seconds": request.app.state.settings.poll_seconds, "path": request.url.path}
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)


def api_token(request: Request, session: Session, role: str) -> str:
    """The local stack's short-lived token for this user in `role`, or (production) the identity provider's access
    token."""
    s = request.app.state.settings
    secret = request.app.state.signing_secret
    if secret is None:
        now = request.app.state.clock.now()
        if not session.api_token or session.api_token_expires_at is None or session.api_token_expires_at <= now:
            raise SignInRequired(request.url.path, expired=True)  # the provider's token ran out: sign in again
        return session.api_token
    return token_for(session, role, secret=secret, issuer=s.jwt_issuer, audience=s.jwt_audience,
                     ttl_seconds=s.token_seconds)


def peer_token(request: Request, session: Session) -> str:
    """The token the peer app calls pairing with."""
    return api_token(request, session, "peer")


async def call_as_peer(request: Request, session: Session, method: str, path: str, **kwargs) -> Answer:
    return await request.app.state.apis.call(method, "pairing", path, peer_token(request, session), **kwargs)


def install(app) -> None:
    """Map the console's exceptions to pages, and keep patient data out of caches and other sites' frames."""

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, exc: SignInRequired):
        if POLL_HEADER in request.headers:
            return HTMLResponse("", status_code=401)
        target = f"/?next={quote(exc.path)}" + ("&expired=1" if exc.expired else "")
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden):
        return render(request, "message.html", status=403, title="Not allowed", message=exc.detail)

    @app.exception_handler(ApiUnavailable)
    async def unavailable(request: Request, exc: ApiUnavailable):
        return render(request, "message.html", status=503, title="Service not answering",
                      message="PeerBridge could not reach one of its services. Nothing was sent; try again in a "
                              "minute.")

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Cache-Control"] = "no-store"
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response
