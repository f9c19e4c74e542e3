"""Any bytes at all: the inbound reader answers with a parse or a refusal naming a segment, never another error."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.billing.domain.x12read import RefusedFile
from services.billing.inbound import parse

from .test_inbound_x12 import ACKS, REMIT
from tests.support.x12_replies import write_999

pytestmark = pytest.mark.unit
FILES = [REMIT, ACKS, write_999("7"), write_999("7", code="R", errors=[("CLM", 22, "8")])]
ALPHABET = st.sampled_from(list("*~:^0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ- .\n"))


@st.composite
def mutated(draw) -> bytes:
    """A valid file with a few characters replaced, inserted or deleted, or cut short."""
    text = list(draw(st.sampled_from(FILES)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text) - 1))
        action = draw(st.sampled_from(["replace", "insert", "delete", "cut"]))
        if action == "replace":
            text[at] = draw(ALPHABET)
        elif action == "insert":
            text.insert(at, draw(ALPHABET))
        elif action == "delete" and len(text) > 1:
            del text[at]
        elif action == "cut":
            text = text[:max(at, 1)]
    return "".join(text).encode()


def check(raw: bytes) -> None:
    try:
        parse(raw)
    except RefusedFile as refused:
        assert refused.problems and all(p.reason for p in refused.problems)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_file_is_parsed_or_refused(raw):
    check(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_refused(raw):
    check(raw)
