"""Reading inbound X12 (999, 277CA, 835): segments, delimiters from the ISA, the envelope checked, or refusal."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from ..validate837 import _control_problems

SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{1,2}$")
AMOUNT = re.compile(r"-?(\d{1,10}(\.\d{0,2})?|\.\d{1,2})", re.ASCII)
COUNT = re.compile(r"\d{1,9}", re.ASCII)
LONGEST_SEGMENT = 4096
# What billing reads: ST01 -> (kind, the implementation guide's version in ST03 / GS08).
KINDS = {"999": ("999", "005010X231A1"), "277": ("277CA", "005010X214"), "835": ("835", "005010X221A1")}


@dataclass(frozen=True)
class Problem:
    """Why a file is refused: the segment's position (1 = ISA), its id, and the reason (never the data)."""

    segment: int
    segment_id: str
    reason: str

    def __str__(self) -> str:
        return f"segment {self.segment} {self.segment_id}: {self.reason}"


class RefusedFile(ValueError):
    """An inbound file that is not applied; `problems` say where and why."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(map(str, problems[:5])))
        self.problems = problems


@dataclass(slots=True)
class Seg:
    """One segment: its position in the file (1 = ISA), id and elements (index 1 = the first element)."""

    n: int
    elements: list[str]

    @property
    def id(self) -> str:
        return self.elements[0]

    def get(self, i: int) -> str:
        return self.elements[i] if len(self.elements) > i else ""

    def refuse(self, reason: str) -> RefusedFile:
        return RefusedFile([Problem(self.n, self.id, reason)])

    def amount(self, i: int, *, required: bool = True) -> Decimal | None:
        """Element i as money: an X12 decimal (R) with at most two places."""
        raw = self.elements[i] if len(self.elements) > i else ""
        if not raw and not required:
            return None
        # X12's R type: an optional minus sign, digits and at most one point; money has at most two places.
        if not AMOUNT.fullmatch(raw):
            raise self.refuse(f"{self.id}{i:02d} is not an amount")
        return Decimal(raw)

    def number(self, i: int) -> int:
        raw = self.get(i)
        if not COUNT.fullmatch(raw):
            raise self.refuse(f"{self.id}{i:02d} is not a count")
        return int(raw)

    def identifier(self, i: int, longest: int, *, required: bool = True) -> str | None:
        """Element i as an identifier of at most `longest` characters (our claim number, the payer's)."""
        raw = self.get(i)
        if not raw and not required:
            return None
        if not raw or len(raw) > longest:
            raise self.refuse(f"{self.id}{i:02d} must be 1 to {longest} characters")
        return raw


@dataclass
class Document:
    """A read interchange: its kind, control numbers, component separator and segments (ISA to IEA)."""

    kind: str
    segments: list[Seg]
    component: str
    interchange_control_number: str


def read(raw: bytes) -> Document:
    """The file's segments, its envelope checked; RefusedFile naming the segment and the reason otherwise."""
    try:
        text = raw.decode("utf-8").lstrip("\ufeff").lstrip()
    except UnicodeDecodeError as exc:
        raise RefusedFile([Problem(0, "", f"byte {exc.start} is not UTF-8 text")]) from None
    if "\x00" in text:
        raise RefusedFile([Problem(0, "", "the file holds a NUL character")])
    if not text.startswith("ISA") or len(text) < 106:
        raise RefusedFile([Problem(1, "ISA", "the file does not start with a complete ISA segment")])
    element, component, terminator = text[3], text[104], text[105]
    if len({element, component, terminator}) < 3 or any(c.isalnum() for c in (element, component, terminator)):
        raise RefusedFile([Problem(1, "ISA", "the delimiters in ISA are not distinct special characters")])
    if terminator not in "\r\n":  # line breaks after each terminator are common and carry nothing
        text = text.replace("\r", "").replace("\n", "")
    segs: list[Seg] = []
    match = SEGMENT_ID.match
    for chunk in text.split(terminator):
        if not chunk or chunk.isspace():
            continue  # the text after the last terminator
        if len(chunk) > LONGEST_SEGMENT:
            raise RefusedFile([Problem(len(segs) + 1, chunk[:3], f"longer than {LONGEST_SEGMENT} characters")])
        elements = chunk.split(element)
        if not match(elements[0]):
            raise RefusedFile([Problem(len(segs) + 1, elements[0].strip()[:3], "not a segment identifier")])
        segs.append(Seg(len(segs) + 1, elements))
    if len(segs[0].elements) != 17:
        raise RefusedFile([Problem(1, "ISA", "ISA must have 16 elements")])
    problems = [_problem(p) for p in _control_problems([s.elements for s in segs])]
    if problems:
        raise RefusedFile(problems)
    return Document(_kind(segs), segs, component, segs[0].get(13))


def _problem(text: str) -> Problem:
    """validate837's envelope findings ("segment 12 SE01: ...") as Problems."""
    match = re.match(r"segment (\d+) (\w+?)(\d\d)?: (.*)", text)
    if match is None:
        return Problem(0, "IEA", text.split(": ", 1)[-1])
    return Problem(int(match[1]), match[2], f"{match[2]}{match[3] or ''} {match[4]}".strip())


def _kind(segs: list[Seg]) -> str:
    """One kind of transaction per file (999, 277CA or 835), in the version its guide defines."""
    kinds = set()
    for seg in segs:
        if seg.id == "GS" and seg.get(8) not in {v for _, v in KINDS.values()}:
            raise seg.refuse("GS08 is not a version billing reads (005010X231A1, 005010X214, 005010X221A1)")
        if seg.id != "ST":
            continue
        if seg.get(1) not in KINDS:
            raise seg.refuse(f"ST01 {seg.get(1)[:3]}: not a 999, 277CA or 835")
        kind, version = KINDS[seg.get(1)]
        if seg.get(3) and seg.get(3) != version:
            raise seg.refuse(f"ST03 is not {version}")
        kinds.add(kind)
    if len(kinds) != 1:
        raise RefusedFile([Problem(1, "ISA", "the file must hold transactions of one kind (999, 277CA or 835)")])
    return kinds.pop()


def transactions(doc: Document) -> list[list[Seg]]:
    """The segments of each ST...SE."""
    out, current = [], None
    for seg in doc.segments:
        if seg.id == "ST":
            current = []
        if current is not None:
            current.append(seg)
        if seg.id == "SE" and current is not None:
            out.append(current)
            current = None
    return out
