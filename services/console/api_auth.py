"""Sign-in, sign-out, the landing pages of each role, and the installable shell (manifest, service worker)."""
from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from .pages import COOKIE, PRE_COOKIE, check_csrf, form_of, render, safe_next, signed_in
from .oidc import OidcFailed
from .service import NoRole, Session, SignInFailed, same_token

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).with_name("static")
HOMES = (("peer", "/peer"), ("supervisor", "/supervisor"), ("billing", "/billing"))


def home_of(session: Session) -> str:
    return next((path for name, path in HOMES if name in session.roles), "/supervisor")


def _cookie(response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    # Lax, not Strict: a page opened from the SMS or push deep link is a top-level navigation from elsewhere,
    # which must arrive signed in; cross-site POSTs still carry no cookie, and every form has a CSRF token too.
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=request.app.state.settings.cookie_secure)


@router.get("/")
async def sign_in_page(request: Request, next: str = "", expired: bool = False, signed_out: bool = False):
    session = await request.app.state.console.session(request.cookies.get(COOKIE))
    if session is not None:
        return RedirectResponse(safe_next(next) or home_of(session), status_code=303)
    pre = secrets.token_urlsafe(24)
    response = render(request, "signin.html", pre=pre, next=safe_next(next), expired=expired, signed_out=signed_out,
                      oidc=request.app.state.oidc is not None, settings=request.app.state.settings)
    _cookie(response, request, PRE_COOKIE, pre, max_age=3600)
    return response


@router.post("/signin")
async def sign_in(request: Request):
    form = await form_of(request)
    next_path = safe_next(form.get("next"))
    if not request.app.state.settings.local_accounts:
        return RedirectResponse("/", status_code=303)
    if not same_token(form.get("csrf"), request.cookies.get(PRE_COOKIE, "")):
        return RedirectResponse(f"/?next={quote(next_path)}", status_code=303)  # a fresh form and token
    try:
        cookie, session = await request.app.state.console.sign_in(form.get("username", "").strip(),
                                                                  form.get("password", ""))
    except SignInFailed:
        pre = secrets.token_urlsafe(24)
        response = render(request, "signin.html", status=401, pre=pre, next=next_path, failed=True,
                          username=form.get("username", ""), oidc=request.app.state.oidc is not None,
                          settings=request.app.state.settings)
        _cookie(response, request, PRE_COOKIE, pre, max_age=3600)
        return response
    response = RedirectResponse(next_path or home_of(session), status_code=303)
    _cookie(response, request, COOKIE, cookie)  # a session cookie: gone when the browser closes
    response.delete_cookie(PRE_COOKIE, path="/")
    return response


@router.get("/oidc/start")
async def oidc_start(request: Request, next: str = ""):
    """Off to the hospital's identity provider (authorization code flow with PKCE)."""
    oidc = request.app.state.oidc
    if oidc is None:
        return RedirectResponse("/", status_code=303)
    try:
        url = await request.app.state.console.start_oidc(oidc, safe_next(next))
    except OidcFailed:
        return render(request, "message.html", status=502, title="Sign-in unavailable",
                      message="The hospital's sign-in service did not answer. Try again in a minute.")
    return RedirectResponse(url, status_code=303)


@router.get("/oidc/callback")
async def oidc_callback(request: Request, state: str = "", code: str = "", error: str = ""):
    """Back from the identity provider: a session for the person its ID token names, in the roles it gives."""
    oidc = request.app.state.oidc
    if oidc is None or error or not state or not code:
        return render(request, "message.html", status=400, title="Not signed in",
                      message="The sign-in was cancelled or refused. Start again from the sign-in page.")
    try:
        cookie, session, next_path = await request.app.state.console.finish_oidc(oidc, state, code)
    except OidcFailed:
        return render(request, "message.html", status=400, title="Not signed in",
                      message="The sign-in could not be completed. Start again from the sign-in page.")
    except NoRole:
        return render(request, "message.html", status=403, title="No PeerBridge role",
                      message="Your hospital account has no PeerBridge role (peer, supervisor or billing). "
                              "Ask your administrator.")
    response = RedirectResponse(next_path or home_of(session), status_code=303)
    _cookie(response, request, COOKIE, cookie)
    return response


@router.post("/signout")
async def sign_out(request: Request, session: Session = Depends(signed_in)):
    check_csrf(session, await form_of(request))
    await request.app.state.console.sign_out(session)
    response = RedirectResponse("/?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/offline")
async def offline_page(request: Request):
    """The page the service worker shows when a page cannot be reached; cached, so it holds no data."""
    return render(request, "offline.html")


@router.get("/manifest.webmanifest")
async def manifest():
    return JSONResponse({
        "name": "PeerBridge", "short_name": "PeerBridge", "start_url": "/peer", "scope": "/", "display": "standalone",
        "background_color": "#ffffff", "theme_color": "#0b4f6c", "description": "Peer recovery at the bedside",
        "icons": [{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}]},
        media_type="application/manifest+json")


@router.get("/sw.js")
async def service_worker():
    # Served from the root so that its scope is the whole app; never cached by HTTP, so an update is seen at once.
    return FileResponse(STATIC / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})
