"""Every route's OpenAPI declares the errors it answers, in the media type it really answers them in."""
from __future__ import annotations

import importlib
import time

import jwt
import pytest
from fastapi.testclient import TestClient

from services.runtime.auth import TokenVerifier

pytestmark = pytest.mark.unit

SERVICES = ("intake", "pairing", "referral", "billing", "notify")
# Public by design: the SMART token endpoint and its discovery document are how a hospital system gets a token; the
# SMS provider's webhooks carry its signature (X-Twilio-Signature) instead of a token, 403 when it is wrong.
# Referral's JWKS (/oauth/jwks) holds the public key its inbound tokens are checked with: public by nature.
PUBLIC = {"/healthz", "/readyz", "/metrics", "/fhir/metadata", "/oauth/token", "/oauth/jwks",
          "/fhir/.well-known/smart-configuration", "/sms/inbound", "/sms/status"}
SECRET = "openapi-test-secret"


def build(service: str):
    app = importlib.import_module(f"services.{service}.app").create_app()
    app.state.verifier = TokenVerifier(secret=SECRET, issuer="peerbridge-local", audience="peerbridge")
    return app


@pytest.fixture(scope="module", params=SERVICES)
def app(request):
    return build(request.param)


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method, op


def params(op: dict, where: str) -> list[dict]:
    return [p for p in op.get("parameters", []) if p["in"] == where]


def test_routes_that_need_a_token_declare_401_and_403_and_only_operations_routes_are_public(app):
    for path, method, op in operations(app.openapi()):
        if path in PUBLIC:
            assert "security" not in op, (method, path)
            continue
        assert op.get("security"), f"{method} {path} does not declare the bearer scheme"
        assert {"401", "403"} <= set(op["responses"]), f"{method} {path} lacks 401/403"
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"]


def test_routes_with_a_path_id_declare_404_and_routes_with_input_declare_400_and_422(app):
    for path, method, op in operations(app.openapi()):
        responses = set(op["responses"])
        if params(op, "path"):
            assert {"400", "404"} <= responses, f"{method} {path} lacks 400/404"
        if params(op, "query"):
            assert responses & {"400", "422"}, f"{method} {path} lacks 400/422"
        if "requestBody" in op:  # an unreadable body (not UTF-8, not JSON) is 400; an invalid one 422
            assert {"400", "422"} <= responses, f"{method} {path} lacks 400 or 422"
        if any("string" not in str(p["schema"]) for p in params(op, "query")):
            # an int, bool or date-time that does not parse: 400 in FHIR, a 422 problem elsewhere
            assert ("400" if path.startswith("/fhir") else "422") in responses, f"{method} {path} lacks 422"


def test_error_responses_are_problem_json_or_an_operation_outcome_never_plain_json(app):
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    assert {"Problem", "OperationOutcome"} <= set(schemas) and "HTTPValidationError" not in schemas
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if not status.startswith(("4", "5")) or path == "/readyz":
                continue
            (media_type, content), = response["content"].items()
            expected = ("application/fhir+json", "OperationOutcome") if path.startswith("/fhir") or \
                media_type == "application/fhir+json" else ("application/problem+json", "Problem")
            assert (media_type, content["schema"]["$ref"].rsplit("/", 1)[1]) == expected, (method, path, status)
            if path.startswith("/fhir"):
                assert media_type == "application/fhir+json", (method, path, status)


def token(roles: list[str]) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "openapi-test", "roles": roles, "iss": "peerbridge-local", "aud": "peerbridge",
                       "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")


def concrete(path: str) -> str:
    return path.replace("{rtype}", "Task").replace("{vid}", "1").replace("{", "").replace("}", "")


def secured(app, *, audited: bool):
    """(method, path, operation) of the routes behind a token; `audited` picks referral's Part 2 routes, whose
    every answer, 401 and 403 included, is written to the audit trail first (so they need the database)."""
    from services.referral import api, disclosures, fhir_api

    kinds = {(m, r.path) for router in (api.part2, fhir_api.part2, disclosures.router) for r in router.routes
             for m in r.methods}
    for path, method, op in operations(app.openapi()):
        if op.get("security") and ((method.upper(), path) in kinds) == audited:
            yield method, path, op


def refusals(request, secured_routes) -> int:
    """Send each secured route a request without a token and one with no role; check status and media type."""
    checked = 0
    for method, path, op in secured_routes:
        kwargs = {"json": {}} if "requestBody" in op else {}
        for status, headers in (("401", {}), ("403", {"Authorization": f"Bearer {token([])}"})):
            r = request(method, concrete(path), headers=headers, **kwargs)
            declared = next(iter(op["responses"][status]["content"]))
            assert (r.status_code, r.headers["content-type"]) == (int(status), declared), (method, path)
            checked += 1
    return checked


@pytest.mark.parametrize("service", SERVICES)
def test_401_and_403_answer_in_the_media_type_the_openapi_declares(service):
    app = build(service)
    client = TestClient(app, raise_server_exceptions=False)
    checked = refusals(client.request, secured(app, audited=False))
    assert checked >= 4  # every service has routes behind a token outside the audited Part 2 ones
