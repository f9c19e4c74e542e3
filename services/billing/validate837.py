"""837P checks: pyx12's structural validation plus the claim-level checks pyx12 does not make."""
from __future__ import annotations

import io
import json
import logging
from decimal import Decimal, InvalidOperation

from services.runtime.npi import is_valid_npi

MAX_MODIFIERS = 4
MAX_POINTERS = 4


class InvalidClaimFile(Exception):
    """A generated 837P failed validation; `problems` says where (segment ids and positions, no values)."""

    def __init__(self, problems: list[str]):
        super().__init__(f"{len(problems)} problem(s) in the 837P file")
        self.problems = problems


def segments(text: str) -> tuple[list[list[str]], str]:
    """The file's segments split into elements, and the component separator (from ISA16)."""
    text = text.lstrip("\ufeff")
    if not text.startswith("ISA") or len(text) < 106:
        raise ValueError("not an X12 interchange")
    element, component, terminator = text[3], text[104], text[105]
    segs = [s.strip("\r\n ").split(element) for s in text.split(terminator)]
    return [s for s in segs if s and s[0]], component


def claim_problems(text: str) -> list[str]:
    """Checks beyond pyx12: CLM02 = sum of SV102, pointers, undotted ICD-10, modifiers, NPIs, control numbers."""
    try:
        segs, comp = segments(text)
    except ValueError as exc:
        return [str(exc)]
    problems: list[str] = []
    problems += _control_problems(segs)
    claim = None
    for n, seg in enumerate(segs, start=1):
        sid = seg[0]
        if sid in ("CLM", "HL", "SE") and claim:
            problems += _finish_claim(claim)
            claim = None
        if sid == "CLM":
            claim = {"at": n, "total": _money(seg, 2), "lines": Decimal("0"), "diagnoses": 0, "pointers": [],
                     "frequency": (_el(seg, 5).split(comp) + ["", "", ""])[2], "f8": False}
        elif sid == "REF" and claim and _el(seg, 1) == "F8":
            claim["f8"] = True
        elif sid == "HI" and claim:
            codes = [e.split(comp) for e in seg[1:] if e]
            claim["diagnoses"] += len(codes)
            if any(len(c) > 1 and "." in c[1] for c in codes):
                problems.append(f"segment {n} HI: ICD-10 code with a dot")
        elif sid == "SV1" and claim:
            procedure = _el(seg, 1).split(comp)
            if len(procedure) - 2 > MAX_MODIFIERS:
                problems.append(f"segment {n} SV101: more than {MAX_MODIFIERS} modifiers")
            claim["lines"] += _money(seg, 2) or Decimal("0")
            pointers = [p for p in _el(seg, 7).split(comp) if p]
            if not pointers or len(pointers) > MAX_POINTERS:
                problems.append(f"segment {n} SV107: 1 to {MAX_POINTERS} diagnosis pointers required")
            claim["pointers"].append((n, pointers))
        elif sid == "NM1" and _el(seg, 8) == "XX" and not is_valid_npi(_el(seg, 9)):
            problems.append(f"segment {n} NM1*{_el(seg, 1)}: NPI fails its check digit")
    if claim:
        problems += _finish_claim(claim)
    return problems


def _el(seg: list[str], i: int) -> str:
    return seg[i] if len(seg) > i else ""


def _money(seg: list[str], i: int) -> Decimal | None:
    try:
        return Decimal(_el(seg, i))
    except InvalidOperation:
        return None


def _finish_claim(claim: dict) -> list[str]:
    at, problems = claim["at"], []
    if claim["total"] is None or claim["total"] != claim["lines"]:
        problems.append(f"segment {at} CLM02: claim total is not the sum of its lines' SV102")
    for n, pointers in claim["pointers"]:
        if any(not p.isdigit() or not 1 <= int(p) <= claim["diagnoses"] for p in pointers):
            problems.append(f"segment {n} SV107: a diagnosis pointer points to no diagnosis")
    if claim["frequency"] in ("7", "8") and not claim["f8"]:
        problems.append(f"segment {at} CLM05-3: a replacement or void needs REF*F8 (original claim)")
    if not claim["pointers"]:
        problems.append(f"segment {at} CLM: a claim without service lines")
    return problems


def _control_problems(segs: list[list[str]]) -> list[str]:
    """ISA13 = IEA02, GS06 = GE02, ST02 = SE02, and counts; ST control numbers unique in a group."""
    problems, isa, gs, st, st_at, st_seen, groups, sets = [], None, None, None, 0, set(), 0, 0
    for n, seg in enumerate(segs, start=1):
        sid = seg[0]
        if sid == "ISA":
            isa, groups = _el(seg, 13), 0
        elif sid == "GS":
            gs, sets, groups, st_seen = _el(seg, 6), 0, groups + 1, set()
        elif sid == "ST":
            st, st_at, sets = _el(seg, 2), n, sets + 1
            if st in st_seen:
                problems.append(f"segment {n} ST02: control number repeated in the group")
            st_seen.add(st)
        elif sid == "SE":
            if _el(seg, 2) != st:
                problems.append(f"segment {n} SE02: does not match ST02")
            if _el(seg, 1) != str(n - st_at + 1):
                problems.append(f"segment {n} SE01: segment count is wrong")
        elif sid == "GE":
            if _el(seg, 2) != gs:
                problems.append(f"segment {n} GE02: does not match GS06")
            if _el(seg, 1) != str(sets):
                problems.append(f"segment {n} GE01: transaction set count is wrong")
        elif sid == "IEA":
            if _el(seg, 2) != isa:
                problems.append(f"segment {n} IEA02: does not match ISA13")
            if _el(seg, 1) != str(groups):
                problems.append(f"segment {n} IEA01: group count is wrong")
    if isa is None or not any(s[0] == "IEA" for s in segs):
        problems.append("interchange: ISA/IEA envelope incomplete")
    return problems


def pyx12_problems(text: str) -> list[str]:
    """pyx12's findings (codes and element positions, never values), or [] when it accepts the file."""
    import pyx12.errors
    import pyx12.params
    import pyx12.x12n_document

    _silence_pyx12()
    report = io.StringIO()
    try:
        ok = pyx12.x12n_document.x12n_document(param=pyx12.params.params(), src_file=io.StringIO(text),
                                              fd_997=None, fd_html=None, fd_json=report)
    except pyx12.errors.X12Error:
        return ["pyx12: not an X12 file it can read"]
    except pyx12.errors.EngineError:
        return ["pyx12: structure it cannot follow"]
    if ok:
        return []
    return _json_findings(report.getvalue()) or ["pyx12: rejected"]


def _silence_pyx12() -> None:
    """pyx12 logs each error with the offending value (a member id, say): its records stop at its own logger."""
    logger = logging.getLogger("pyx12")
    if logger.propagate:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _json_findings(raw: str) -> list[str]:
    found: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            here = node.get("seg_id") or node.get("trn_set_id") or node.get("gs_control_num") and "GS" or where
            if "ele_pos" in node:
                here = f"{where}{node['ele_pos']:02d}"
            for err in node.get("errors", []) or []:
                name = f" {node['name']}" if node.get("name") else ""
                found.append(f"pyx12 {here}{name}: error code {err.get('err_cde')}")
            for value in node.values():
                if isinstance(value, list):
                    for child in value:
                        walk(child, here)
    try:
        walk(json.loads(raw), "")
    except json.JSONDecodeError:
        return []
    return found


def validate_837(text: str, *, structural: bool = True) -> list[str]:
    """Every problem found in an 837P file; [] means pyx12 accepts it and our own checks pass."""
    problems = claim_problems(text)
    if structural:
        problems += pyx12_problems(text)
    return problems
