"""Validation by shape gives the R4B models' verdict: a body of a shape seen before is refused exactly when the model
refuses it, whatever text it carries where."""
from __future__ import annotations

import copy

import pydantic
import pytest
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from hypothesis import given, settings
from hypothesis import strategies as st

from services.referral.domain import fhir
from services.referral.domain.shapes import ShapeCheck, shape

from .test_resources import _lifecycle

pytestmark = pytest.mark.unit
MODELS = {"ServiceRequest": ServiceRequest, "Task": Task, "Consent": Consent}
BODIES = [body for ref in _lifecycle() for body in fhir.build(ref).values()]


def texts_of(body: dict) -> list[str]:
    found: list[str] = []
    shape(body, found)
    return found


def with_text(node, index: int, text: str, seen: list[int] | None = None):
    """The body with its index-th text value (in document order) replaced; resourceType kept."""
    seen = [0] if seen is None else seen
    if isinstance(node, dict):
        return {k: v if k == "resourceType" else with_text(v, index, text, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [with_text(item, index, text, seen) for item in node]
    if isinstance(node, str):
        seen[0] += 1
        return text if seen[0] - 1 == index else node
    return node


def model_accepts(body: dict) -> bool:
    try:
        MODELS[body["resourceType"]].model_validate(body)
    except pydantic.ValidationError:
        return False
    return True


def shape_accepts(check: ShapeCheck, body: dict) -> bool:
    try:
        check.validate(body)
    except pydantic.ValidationError:
        return False
    return True


def primed() -> ShapeCheck:
    """A check that has validated every resource of every step of a referral (their shapes known)."""
    check = ShapeCheck(MODELS)
    for body in BODIES:
        check.validate(body)
    return check


def test_bodies_of_known_shapes_are_not_validated_whole_again():
    check = primed()
    whole = check.whole
    for body in BODIES:
        check.validate(copy.deepcopy(body))
    assert check.whole == whole and len(check.shapes) <= len(BODIES)


@pytest.mark.parametrize("text", ["", " ", "two  spaces", "T40.1X1A ", "urn:has space", "\t", "x\x00y",
                                  "2026-02-30T10:00:00Z", "not-a-date", "ServiceRequest/../x", "é", "A" * 70])
def test_a_known_shape_with_any_text_anywhere_gets_the_models_verdict(text):
    check = primed()
    for body in BODIES:
        for index in range(len(texts_of(body))):
            mutated = with_text(body, index, text)
            assert shape_accepts(check, mutated) == model_accepts(mutated), (body["resourceType"], index, text)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(range(len(BODIES))), st.integers(min_value=0, max_value=60), st.text(max_size=80))
def test_any_text_in_any_place_gets_the_models_verdict(which, index, text):
    body = BODIES[which]
    mutated = with_text(body, index % len(texts_of(body)), text)
    assert shape_accepts(primed(), mutated) == model_accepts(mutated)


def test_a_refused_body_raises_the_models_error_naming_the_element():
    check = primed()
    sr = next(b for b in BODIES if b["resourceType"] == "ServiceRequest")
    bad = copy.deepcopy(sr)
    bad["subject"]["identifier"]["value"] = ""
    with pytest.raises(pydantic.ValidationError, match="subject.identifier.value"):
        check.validate(bad)
    unknown = {**sr, "bogus": "x"}  # a new shape: the model decides, and refuses an unknown element
    with pytest.raises(pydantic.ValidationError, match="bogus"):
        check.validate(unknown)
