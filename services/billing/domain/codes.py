"""Adjustment group codes, CARCs and RARCs in words (rules/adjustment_codes.yaml), for billers."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from .rules import RULES_DIR

FILE = "adjustment_codes.yaml"


@lru_cache(maxsize=4)
def _table(directory: Path = RULES_DIR) -> dict[str, dict[str, str]]:
    data = yaml.safe_load((directory / FILE).read_text())
    return {kind: {str(k): str(v) for k, v in (data.get(kind) or {}).items()} for kind in ("groups", "carc", "rarc")}


def _words(kind: str, code: str) -> str:
    return _table()[kind].get(code) or f"{code}: not in our table"


def adjustment_in_words(adjustment: dict) -> str:
    """'CO-45: the charge exceeds ... (contractual obligation ...)'."""
    group, reason = adjustment["group"], adjustment["reason"]
    return f"{group}-{reason}: {_words('carc', reason)} ({_words('groups', group)})"


def remark_in_words(code: str) -> str:
    return f"{code}: {_words('rarc', code)}"


def explain(detail: dict) -> list[str]:
    """Every adjustment (claim and line level) and remark of a remittance claim, in words, each once."""
    found: list[str] = []
    adjustments = detail["adjustments"] + [a for line in detail["lines"] for a in line["adjustments"]]
    remarks = detail["remarks"] + [r for line in detail["lines"] for r in line["remarks"]]
    for text in [adjustment_in_words(a) for a in adjustments] + [remark_in_words(r) for r in remarks]:
        if text not in found:
            found.append(text)
    return found
