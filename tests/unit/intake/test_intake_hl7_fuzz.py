"""Mutated public samples through the HL7 parser and the ADT extractor: only their declared errors ever come out."""
from __future__ import annotations

from datetime import datetime, timezone

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.domain.adt import extract, header, salvage_header
from services.intake.domain.hl7 import Hl7ParseError, Hl7Problem, Message, parse_many
from tests.support.samples import HL7_SAMPLES

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
SAMPLES = sorted(path.read_bytes() for path in HL7_SAMPLES.glob("*.hl7"))
# Digits int() and str.isdigit() treat differently: superscripts, Arabic-Indic, fullwidth, Devanagari, circled.
ODD_DIGITS = "\u00b9\u00b2\u00b3\u2070\u2074\u0660\u0663\u0669\uff10\uff15\u0967\u2460"
NUMERIC = re.compile(r"(?<=[|^])[0-9]{1,14}(?=[|^\r\n])")
SEPARATORS = "|^~\\&\r\n\x0b\x1c\x00"
OFFSETS = ["+2400", "-2400", "+9999", "-2500", "+0060", "+1400", "-"]
TIMESTAMPS = ["19800101+2400", "19800101-9999", "20311399", "2031112725", "\u00b9980", "1980\u00b9\u00b2", "+0500",
              "20310506100000.12345", "0000", "99999999999999"]


@st.composite
def mutated(draw) -> bytes:
    """A sample with a few byte or character insertions, deletions, field swaps, odd digits or separators."""
    text = draw(st.sampled_from(SAMPLES)).decode("latin-1")
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        # Numbers weigh more: timestamps and ages are where int() and datetime raise.
        kind = draw(st.sampled_from(["number", "insert", "delete", "swap", "number", "digit", "separator", "number",
                                     "timestamp", "bytes"]))
        if kind == "insert":
            text = text[:at] + draw(st.text(max_size=8)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif kind == "swap":
            fields = text.split("|")
            i, j = draw(st.integers(0, len(fields) - 1)), draw(st.integers(0, len(fields) - 1))
            fields[i], fields[j] = fields[j], fields[i]
            text = "|".join(fields)
        elif kind == "digit":
            digits = [n for n, ch in enumerate(text) if ch.isdigit()]
            if digits:
                n = draw(st.sampled_from(digits))
                text = text[:n] + draw(st.sampled_from(ODD_DIGITS)) + text[n + 1:]
        elif kind == "separator":
            text = text[:at] + draw(st.sampled_from(SEPARATORS)) + text[at:]
        elif kind == "timestamp":
            fields = text.split("|")
            fields[draw(st.integers(0, len(fields) - 1))] = draw(st.sampled_from(TIMESTAMPS))
            text = "|".join(fields)
        elif kind == "number":  # timestamps get an offset out of range; ages and counts a digit of another script
            numbers = list(NUMERIC.finditer(text))
            stamps = [m for m in numbers if len(m[0]) >= 8]
            if stamps and draw(st.booleans()):
                m = draw(st.sampled_from(stamps))
                text = text[:m.end()] + draw(st.sampled_from(OFFSETS)) + text[m.end():]
            else:
                digit = draw(st.sampled_from(ODD_DIGITS))
                text = NUMERIC.sub(lambda m, d=digit: m[0] if len(m[0]) >= 8 else d + m[0][1:], text)
        else:
            text = text[:at] + draw(st.binary(max_size=6)).decode("latin-1") + text[at:]
    encoding = draw(st.sampled_from(["utf-8", "latin-1"]))
    return text.encode(encoding, errors="replace")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_mutated_message_only_ever_raises_the_parsers_declared_errors(raw):
    salvage_header(raw)
    try:
        items, _batch = parse_many(raw)
    except Hl7ParseError:
        return
    for item in items:
        if not isinstance(item, Message):
            assert isinstance(item, Hl7ParseError)
            continue
        header(item)
        item.text()
        try:
            extract(item, emergency_locations=frozenset({"ED"}), tz=timezone.utc, received_at=NOW)
        except Hl7Problem:
            pass


def test_the_samples_are_found():
    assert len(SAMPLES) >= 5
