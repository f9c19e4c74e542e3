"""schemathesis over every service's OpenAPI, with a token of each role, against the running services (`make fuzz`).

Not collected by `make test` (the name does not start with test_): it sends thousands of requests. Every operation gets
schema-conforming and schema-violating cases (FUZZ_EXAMPLES of each, default 25), each sent once per role. A 5xx fails;
so does an answer whose status or media type the operation's OpenAPI does not declare.
"""
from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from services.runtime.auth import ROLES
from tests.support.fuzz import observe

pytestmark = pytest.mark.e2e
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]


def problems_of(stack, service: str, mode) -> list[str]:
    url = stack.urls[service]
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    tokens = {role: stack.headers(role) for role in sorted(ROLES)}
    found: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case):
            for role, headers in tokens.items():
                response = case.call(base_url=url, headers=headers, session=session, timeout=30)
                observe("schemathesis", response.status_code)
                try:
                    case.validate_response(response, checks=CHECKS)
                except (Failure, FailureGroup) as exc:
                    names = ", ".join(sorted({type(f).__name__ for f in getattr(exc, "exceptions", [exc])}))
                    found.append(f"{case.operation.label} as {role}: {response.status_code} {names}; "
                                 f"{case.as_curl_command()[:400]}")

        try:
            exercise()
        except Unsatisfiable:  # nothing to violate: an operation without parameters or body in negative mode
            pass
    return found


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=str)
@pytest.mark.parametrize("service", ["intake", "pairing", "referral", "billing", "notify"])
def test_no_generated_request_gets_a_server_error_or_an_undeclared_answer(stack, service, mode):
    found = problems_of(stack, service, mode)
    assert not found, f"{len(found)} failing answers:\n" + "\n".join(sorted(set(found))[:60])
