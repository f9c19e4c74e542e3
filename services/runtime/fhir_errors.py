"""FHIR errors: every failure under /fhir becomes an OperationOutcome with the right HTTP status (intake, referral)."""
from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.runtime import web
from services.runtime.auth import AuthError

FHIR_JSON = "application/fhir+json"
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
               410: "deleted", 422: "invalid"}


class FhirError(Exception):
    """An error to answer with an OperationOutcome; the text names fields, never values."""

    def __init__(self, status: int, diagnostics: str, code: str | None = None):
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.code = code or ISSUE_CODES.get(status, "processing")


def outcome(status: int, diagnostics: str, code: str | None = None, *, severity: str = "error",
            expression: str | None = None) -> JSONResponse:
    """An OperationOutcome of one issue, as every FHIR route of every service answers (errors and information)."""
    issue = {"severity": severity, "code": code or ISSUE_CODES.get(status, "processing"), "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"resourceType": "OperationOutcome", "issue": [issue]}, status_code=status,
                        media_type=FHIR_JSON, headers=headers)


def _is_fhir(request: Request) -> bool:
    return request.url.path == "/fhir" or request.url.path.startswith("/fhir/")


def install(app: FastAPI) -> None:
    """Replace the app-wide problem+json handlers with ones that answer FHIR paths in FHIR (run after build_app)."""

    @app.exception_handler(FhirError)
    async def on_fhir_error(_request: Request, exc: FhirError):
        return outcome(exc.status, exc.diagnostics, exc.code)

    @app.exception_handler(AuthError)
    async def on_auth_error(request: Request, exc: AuthError):
        if _is_fhir(request):
            return outcome(exc.status, exc.detail)
        return web.problem(exc.status, "Unauthorized" if exc.status == 401 else "Forbidden", exc.detail)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        errors = web.validation_errors(exc)
        fields = ", ".join(".".join(e["loc"][1:] or e["loc"]) for e in errors)
        if _is_fhir(request):
            return outcome(400, f"invalid parameters: {fields}")
        return web.problem(422, "Invalid request", f"invalid fields: {fields}", errors=errors)

    async def on_unstorable(request: Request, exc: Exception):
        if not web.unstorable_text(exc):
            raise exc
        if _is_fhir(request):
            return outcome(422, web.UNSTORABLE, "invalid")
        return web.problem(422, "Invalid request", web.UNSTORABLE)

    for error in web.UNSTORABLE_ERRORS:
        app.add_exception_handler(error, on_unstorable)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        detail = str(exc.detail) if exc.detail else None
        if _is_fhir(request):
            return outcome(exc.status_code, detail or "error")
        return web.problem(exc.status_code, HTTPStatus(exc.status_code).phrase, detail)
