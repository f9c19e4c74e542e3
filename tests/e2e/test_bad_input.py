"""Bad input at every edge of the running services: each case in tests/fuzz/corpus/ gets a specific 4xx, or AE/AR.

A case names a route (`POST /visits`), the role of its token (null: none) and a body, and expects one status (or one
of a few, where a pending fix may answer either). The answer must also be declared in the route's OpenAPI, in the
media type it declares. Placeholders: {now} {past} {hl7now} an instant relative to the clock, {uuid} {control}
{facility} {visit} fresh ids, {specialist} a specialist that exists, and {x*N} is the character x repeated N times.
"""
from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta, timezone
from functools import cache

import httpx
import pytest
import yaml

from services.intake.domain.hl7 import parse
from tests.e2e.test_intake_mllp import send
from tests.support.fuzz import observe
from tests.support.ids import random_npi
from tests.support.stack import ROOT

pytestmark = pytest.mark.e2e
CORPUS = ROOT / "tests" / "fuzz" / "corpus"
REPEAT = re.compile(r"\{(.)\*(\d+)\}")


def cases():
    for file in sorted(CORPUS.glob("*.yaml")):
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            yield pytest.param({**doc.get("defaults", {}), **case}, id=f"{file.stem}:{case['name']}")


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def specialist(stack) -> str:
    body = {"name": "Corpus Peer", "npi": random_npi(), "facilities": ["FUZZ"]}
    r = httpx.post(f"{stack.urls['pairing']}/specialists", json=body, headers=stack.headers("admin"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def fill(value, names: dict):
    """The case's data with its placeholders replaced."""
    if isinstance(value, dict):
        return {fill(k, names): fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if not isinstance(value, str):
        return value
    value = REPEAT.sub(lambda m: m[1] * int(m[2]), value)
    for name, text in names.items():
        value = value.replace("{" + name + "}", text)
    return value


def placeholders(specialist: str) -> dict:
    now = datetime.now(timezone.utc)
    return {"now": now.isoformat(), "past": (now - timedelta(hours=1)).isoformat(),
            "hl7now": now.strftime("%Y%m%d%H%M%S"),
            "uuid": str(uuid.uuid4()), "control": "FZ" + uuid.uuid4().hex[:12], "specialist": specialist,
            "facility": "F" + uuid.uuid4().hex[:6].upper(), "visit": "V" + uuid.uuid4().hex[:8]}


def body_of(case: dict, names: dict) -> bytes | None:
    if "deep" in case:
        return b"[" * case["deep"] + b"]" * case["deep"]
    if "raw" in case:
        return fill(case["raw"], names).encode(case.get("encoding", "utf-8"))
    if "json" in case:
        return json.dumps(fill(case["json"], names)).encode()
    return None


@cache
def openapi(url: str) -> dict:
    return httpx.get(f"{url}/openapi.json").json()


@pytest.mark.parametrize("case", list(cases()))
def test_bad_input_gets_a_specific_client_error(stack, client, specialist, case):
    names = placeholders(specialist)
    if "hl7" in case:
        return check_hl7(stack, case, names)
    method, template = case["route"].split(" ", 1)
    path = fill(case.get("path", template.replace("{", "{x_")), names)
    path = re.sub(r"\{x_[a-z_]+\}", lambda m: names["specialist" if "specialist" in m[0] else "uuid"], path)
    headers = {"Content-Type": case.get("content_type", "application/json")}
    if case.get("role"):
        headers.update(stack.headers(case["role"]))
    headers.update(case.get("headers", {}))
    url = stack.urls[case["service"]]
    r = client.request(method, url + path, params=fill(case.get("query"), names), content=body_of(case, names),
                       headers=headers)
    observe("corpus", r.status_code)
    expected = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
    assert r.status_code < 500, f"server error {r.status_code}"
    assert r.status_code in expected, r.text[:500]
    declared = openapi(url)["paths"][template][method.lower()]["responses"].get(str(r.status_code))
    assert declared, f"{r.status_code} is not in the OpenAPI of {case['route']}"
    assert r.headers["content-type"].split(";")[0] in declared.get("content", {}), r.headers["content-type"]
    if case.get("secret"):
        assert case["secret"] not in r.text


def check_hl7(stack, case: dict, names: dict) -> None:
    segments = case["hl7"] if isinstance(case["hl7"], list) else [case["hl7"]]
    frame = fill("\r".join(segments), names).encode(case.get("encoding", "utf-8"))
    answer = send(stack, frame)
    ack = parse(answer)
    observe("corpus", 200)
    assert ack.get("MSA", 1) in case["expect"], answer[:300]
    assert b"\rERR|" in answer, answer[:300]
    if case.get("secret"):
        assert case["secret"].encode() not in answer
