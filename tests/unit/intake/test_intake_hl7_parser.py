"""HL7 v2 parsing: delimiters, escapes, charsets, line ends, batches, and no input that makes it crash or hang."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.intake.domain import ack as acks
from services.intake.domain.adt import VisitError, extract, header, salvage_header
from services.intake.domain.hl7 import Hl7ParseError, Message, parse, parse_many
from tests.support.samples import HL7_SAMPLES

pytestmark = pytest.mark.unit
SAMPLES = HL7_SAMPLES


def test_custom_delimiters_are_read_from_msh_1_and_msh_2():
    msg = parse(b"MSH#*@!$#APP#FAC##R#20310101##ADT*A04#C1#P#2.5\rPID#1##A1*X$Y*Z@A2*Q")
    assert header(msg).message_type == "ADT^A04" and header(msg).control_id == "C1"
    assert msg.get("PID", 3, 2, repetition=1, sub=2) == "Y"
    assert msg.get("PID", 3, 1, repetition=2) == "A2"


def test_escape_sequences_are_resolved_in_values():
    msg = parse(b"MSH|^~\\&|A|F|||2026||ADT^A04|C|P|2.5\r"
                b"OBX|1|TX|8661-1||OD \\T\\ narcan\\F\\x\\S\\y\\E\\z\\X41\\\\.br\\w")
    assert msg.get("OBX", 5) == "OD & narcan|x^y\\zA\nw"


@pytest.mark.parametrize("sep", [b"\r", b"\n", b"\r\n"])
def test_segments_may_end_with_cr_lf_or_crlf_and_a_bom_is_ignored(sep):
    raw = b"\xef\xbb\xbf" + sep.join([b"MSH|^~\\&|A|F|||2026||ADT^A04|C|P|2.5", b"PV1|1|E", b""])
    assert [s.name for s in parse(raw).segments] == ["MSH", "PV1"]


def test_latin1_declared_in_msh_18_is_decoded():
    raw = "MSH|^~\\&|A|F|||2026||ADT^A04|C|P|2.5||||||8859/1\rPID|1||X||Muñoz".encode("latin-1")
    assert parse(raw).get("PID", 5) == "Muñoz"


def test_utf8_declared_in_msh_18_is_decoded():
    raw = "MSH|^~\\&|A|F|||2026||ADT^A04|C|P|2.5||||||UNICODE UTF-8\rPID|1||X||Nguyễn".encode()
    assert parse(raw).get("PID", 5) == "Nguyễn"


def test_an_unsupported_charset_is_refused_naming_msh_18():
    with pytest.raises(Hl7ParseError) as info:
        parse(b"MSH|^~\\&|A|F|||2026||ADT^A04|C|P|2.5||||||ISO IR87\rPID|1")
    assert info.value.location == "MSH^1^18"


def test_an_fhs_bhs_batch_yields_each_message():
    raw = (SAMPLES / "batch-fhs-adt-a04.hl7").read_bytes()
    items, batch = parse_many(raw)
    assert batch and len(items) == 1 and isinstance(items[0], Message)
    assert [s.name for s in items[0].segments][:2] == ["MSH", "EVN"]
    assert header(items[0]).control_id == "12334456778890"


def test_each_message_of_a_batch_is_read_in_its_own_msh_18_character_set():
    latin1 = "MSH|^~\\&|A|F|||2026||ADT^A04|L1|P|2.5||||||8859/1\rPID|1||X||Ren\u00e9e\r".encode("latin-1")
    utf8 = "MSH|^~\\&|A|F|||2026||ADT^A04|U1|P|2.5||||||UNICODE UTF-8\rPID|1||X||Ren\u00e9e\r".encode("utf-8")
    unsupported = b"MSH|^~\\&|A|F|||2026||ADT^A04|W1|P|2.5||||||UNICODE UTF-16\rPID|1||X\r"
    items, batch = parse_many(b"FHS|^~\\&\rBHS|^~\\&\r" + latin1 + utf8 + unsupported + b"BTS|3\rFTS|1\r")
    assert batch and [i.get("PID", 5) for i in items[:2]] == ["Ren\u00e9e", "Ren\u00e9e"]
    assert isinstance(items[2], Hl7ParseError) and items[2].location == "MSH^1^18"


def test_the_malformed_fuzz_sample_is_refused_but_still_named():
    raw = (SAMPLES / "malformed-nhapi-fuzz-1.hl7").read_bytes()
    items, _ = parse_many(raw)
    assert isinstance(items[0], Hl7ParseError) and items[0].location == "MSH^1^2"
    assert salvage_header(raw) is not None


def test_a_nul_inside_a_segment_is_refused_and_nul_padding_at_its_end_is_not():
    good = b"MSH|^~\\&|A|F|||2026||ADT^A04|C1|P|2.5\x00\x00\rPID|1||X\x00\r"
    assert isinstance(parse_many(good)[0][0], Message)
    items, _ = parse_many(b"MSH|^~\\&|A|F|||2026||ADT^A04|C2|P|2.5\rPID|1||X\x00Y\r")
    assert isinstance(items[0], Hl7ParseError) and (items[0].code, items[0].location) == ("102", "PID^2")
    assert salvage_header(b"MSH|^~\\&|A\x00B|F|||2026||ADT^A04|C3|P|2.5\r").sending_app == "AB"


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.hl7")), ids=lambda p: p.name)
def test_every_public_sample_parses_or_is_refused_cleanly(path):
    items, _ = parse_many(path.read_bytes())
    assert items and all(isinstance(i, (Message, Hl7ParseError)) for i in items)


@settings(max_examples=400, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_no_bytes_make_the_parser_raise_anything_but_a_parse_error(raw):
    try:
        items, _ = parse_many(raw)
    except Hl7ParseError:
        return
    for item in items:
        if isinstance(item, Message):
            header(item)


_PIECES = st.sampled_from(["MSH", "|", "^", "~", "\\", "&", "\r", "\n", "FHS", "BHS", "PV1", "E", "X", "\\X4",
                           "PID", "DG1", "OBX", "IN1", "MRG", "EVN", "2026", "19800101", "T40.1X1A", "8661-1",
                           "\\.br\\", "^~\\&", "2.5", "ADT^A04", "\xef\xbb\xbf", "\x0b", "\x1c"])


@settings(max_examples=600, deadline=1000)
@given(st.lists(_PIECES, max_size=80), st.booleans())
def test_no_near_hl7_text_makes_the_parser_raise_anything_but_a_parse_error(pieces, latin):
    text = "".join(pieces)
    try:
        items, _ = parse_many(text.encode("latin-1" if latin else "utf-8", errors="replace"))
    except Hl7ParseError:
        return
    for item in items:
        if isinstance(item, Message):
            header(item)
            try:
                extract(item, emergency_locations=frozenset({"E"}), tz=timezone.utc,
                        received_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
            except VisitError:
                pass
            for seg in item.segments:
                for n in range(len(seg.fields) + 1):
                    item.value(seg, n, 2, 2, 2)


# Segment lines are stripped of surrounding whitespace when parsed, so values here carry none at their ends.
_VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30).map(str.strip)


@settings(max_examples=300, deadline=1000)
@given(_VALUE, _VALUE, _VALUE, _VALUE)
def test_every_ack_parses_back_and_echoes_the_control_id(control_id, app, facility, trigger):
    escaped = [v.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\").replace("&", "\\T\\")
               .replace("~", "\\R\\").replace("\r", "").replace("\n", "") for v in (control_id, app, facility, trigger)]
    raw = f"MSH|^~\\&|{escaped[1]}|{escaped[2]}|||2026||ADT^{escaped[3]}|{escaped[0]}|P|2.5".encode()
    hdr = header(parse(raw))
    outcome = acks.failed("101", "PV1^1^19", "an ED visit needs its visit number (PV1-19)")
    reply = parse(acks.build_ack(hdr, outcome, control_id="X", now=datetime(2026, 1, 1, tzinfo=timezone.utc)).encode())
    assert [s.name for s in reply.segments] == ["MSH", "MSA", "ERR"]
    assert reply.get("MSA", 2) == hdr.control_id and reply.get("MSH", 5) == hdr.sending_app
