"""Error responses as routes declare them in OpenAPI: problem+json (RFC 9457), or OperationOutcome on FHIR routes."""
from __future__ import annotations

from typing import Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from .fhir_errors import FHIR_JSON
from .idempotency import UNSAFE
from .web import PROBLEM

REASONS = {400: "Malformed request: a parameter or path id that cannot be read (a NUL byte, a bad search value)",
           401: "No valid bearer token", 403: "The token lacks a role this route requires",
           404: "Nothing with this id (or not visible to the caller)", 409: "Conflicts with the resource's state",
           422: "A field is missing or invalid (the error names the field, never its value)",
           503: "A service this route depends on is unavailable; retry later"}


class FhirResponse(JSONResponse):
    """JSON as application/fhir+json: as `response_class=`, FHIR routes declare their success media type."""

    media_type = FHIR_JSON


class FieldError(BaseModel):
    loc: list[str]
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document; validation errors add `errors`, some routes add counts."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})
    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class OperationOutcomeIssue(BaseModel):
    severity: Literal["fatal", "error", "warning", "information"]
    code: str
    diagnostics: str | None = None
    expression: list[str] | None = None


class OperationOutcome(BaseModel):
    """A FHIR R4 OperationOutcome, as FHIR routes answer errors."""

    resourceType: Literal["OperationOutcome"]
    issue: list[OperationOutcomeIssue]


def _declare(media_type: str, model: type[BaseModel], statuses: tuple[int, ...]) -> dict[int | str, dict]:
    out: dict[int | str, dict] = {}
    for status in statuses:
        out[status] = {"description": REASONS[status],
                       "content": {media_type: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
        if status == 401:
            out[status]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"},
                                                           "description": "Bearer"}}
    return out


def problems(*statuses: int) -> dict[int | str, dict]:
    """`responses=` entries for errors answered as application/problem+json."""
    return _declare(PROBLEM, Problem, statuses)


def outcomes(*statuses: int) -> dict[int | str, dict]:
    """`responses=` entries for errors answered as a FHIR OperationOutcome (application/fhir+json)."""
    return _declare(FHIR_JSON, OperationOutcome, statuses)


def binary(media_type: str) -> dict:
    """A `responses=` entry for a success answered as a file of `media_type`."""
    schema = {"type": "string", "format": "binary"}
    return {"description": "the stored bytes", "content": {media_type: {"schema": schema}}}


def fhir_body(resource_type: str) -> dict:
    """`openapi_extra=` for a route that reads one FHIR resource from the raw body (validated by fhir.resources)."""
    schema = {"type": "object", "required": ["resourceType"], "additionalProperties": True,
              "properties": {"resourceType": {"type": "string", "enum": [resource_type]}}}
    return {"requestBody": {"required": True, "description": f"a FHIR R4 {resource_type}",
                            "content": {FHIR_JSON: {"schema": schema}, "application/json": {"schema": schema}}}}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^\"?[!-~]+\"?$"},
    "description": "A UUID the client makes for this action and sends again with every retry of it. The first "
                   "answer is stored with the effect (kept 48 h) and replayed for a repeat with the same request "
                   "(the answer then carries `Idempotent-Replayed: true`); the same key with another body or "
                   "query is 422, and a repeat while the first is still running is 409.",
}
REPLAYED = {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                    "description": "This is the stored answer to an earlier request with the "
                                                   "same Idempotency-Key; nothing was done again"}}


def _declare_idempotency(path: str, operation: dict) -> None:
    """The Idempotency-Key header, its errors and the replay header on a route that creates or changes."""
    operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    fhir = path == "/fhir" or path.startswith("/fhir/")
    errors = (outcomes if fhir else problems)(400, 409, 422)
    responses = operation.setdefault("responses", {})
    for status, entry in errors.items():
        responses.setdefault(str(status), entry)
    for status, entry in responses.items():
        if status.startswith("2"):
            entry.setdefault("headers", {}).update(REPLAYED)


def install(app: FastAPI) -> None:
    """Put the error schemas into the app's OpenAPI and drop FastAPI's default 422, which no route answers."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, OperationOutcome):
            doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(doc.pop("$defs", {}))
            schemas[model.__name__] = doc
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                responses = operation.get("responses", {})
                if "application/json" in responses.get("422", {}).get("content", {}):
                    del responses["422"]  # the validation handlers answer problem+json or OperationOutcome
                if method.upper() in UNSAFE:
                    _declare_idempotency(path, operation)
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        return schema

    app.openapi = openapi
