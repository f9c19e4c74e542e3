"""Decides whether an ED visit needs a peer, by a program's rules, with the reason for each match."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from services.contracts import Indication

# ICD-10-CM without the dot: a letter, then two to six letters or digits (the contract's Icd10).
_ICD10 = re.compile(r"^[A-Z][0-9A-Z]{2,6}$")


@dataclass(frozen=True)
class DiagnosisRule:
    id: str
    category: str
    substance: str
    pattern: re.Pattern
    reason: str


@dataclass(frozen=True)
class KeywordRule:
    id: str
    category: str
    pattern: re.Pattern
    reason: str


@dataclass(frozen=True)
class Rules:
    program: str
    diagnoses: tuple[DiagnosisRule, ...]
    keywords: tuple[KeywordRule, ...]


def load_rules(path: Path) -> Rules:
    """Read a program's rule file."""
    doc = yaml.safe_load(Path(path).read_text())
    diagnoses = tuple(
        DiagnosisRule(r["id"], r["category"], r.get("substance", "other"), re.compile(r["pattern"]), r["reason"])
        for r in doc.get("diagnoses", []))
    keywords = tuple(
        KeywordRule(r["id"], r["category"],
                    re.compile(r"\b(" + "|".join(re.escape(w) for w in r["words"]) + r")\b", re.IGNORECASE),
                    r["reason"])
        for r in doc.get("keywords", []))
    return Rules(doc.get("program", Path(path).stem), diagnoses, keywords)


def normalise_icd10(code: str) -> str | None:
    """An ICD-10-CM code as every channel keeps it (no dot, upper case), or None when it is not one."""
    code = code.strip().replace(".", "").upper()
    return code if _ICD10.match(code) else None


@lru_cache(maxsize=4096)
def indication(kind: str, code: str, rule: str, category: str | None, substance: str | None,
               reason: str) -> Indication:
    """One indication; they are immutable and few, so each is built (and validated) once per process."""
    return Indication(kind=kind, code=code, rule=rule, category=category, substance=substance, reason=reason)


def evaluate(rules: Rules, diagnoses: list[str], complaints: list[str]) -> list[Indication]:
    """The indications a visit's diagnoses and complaint texts meet, each with its rule and reason."""
    found: list[Indication] = []
    for code in dict.fromkeys(filter(None, map(normalise_icd10, diagnoses))):
        for rule in rules.diagnoses:
            if rule.pattern.search(code):
                found.append(indication("diagnosis", code, rule.id, rule.category, rule.substance, rule.reason))
                break
    for text in complaints:
        for rule in rules.keywords:
            match = rule.pattern.search(text or "")
            if match:
                keyword = match.group(1).lower()
                if not any(i.kind == "keyword" and i.code == keyword for i in found):
                    found.append(indication("keyword", keyword, rule.id, rule.category, None, rule.reason))
    return found
