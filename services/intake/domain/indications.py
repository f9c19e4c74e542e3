"""Decides whether an ED visit needs a peer, and whether it is a crisis, by a program's rules, with each reason."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from services.contracts import Indication

from .rules import KeywordRule, Rules, RulesError, load_rules, parse_rules

__all__ = ["Assessment", "Rules", "RulesError", "assess", "evaluate", "indication", "load_rules", "normalise_icd10",
           "parse_rules"]

# ICD-10-CM without the dot: a letter, then two to six letters or digits (the contract's Icd10).
_ICD10 = re.compile(r"^[A-Z][0-9A-Z]{2,6}$")


@dataclass(frozen=True)
class Assessment:
    """What the rules found in a visit: its indications, and the crisis rules it met (ids only)."""

    indications: list[Indication]
    crisis_rules: list[str]


def normalise_icd10(code: str) -> str | None:
    """An ICD-10-CM code as every channel keeps it (no dot, upper case), or None when it is not one."""
    code = code.strip().replace(".", "").upper()
    return code if _ICD10.match(code) else None


@lru_cache(maxsize=4096)
def indication(kind: str, code: str, rule: str | None, category: str | None, substance: str | None,
               reason: str) -> Indication:
    """One indication; they are immutable and few, so each is built (and validated) once per process."""
    return Indication(kind=kind, code=code, rule=rule, category=category, substance=substance, reason=reason)


def _keywords(rules: tuple[KeywordRule, ...], texts: list[str]) -> list[tuple[KeywordRule, str]]:
    found = []
    for text in texts:
        for rule in rules:
            word = rule.find(text)
            if word is not None:
                found.append((rule, word))
    return found


def assess(rules: Rules, diagnoses: list[str], complaints: list[str]) -> Assessment:
    """The indications a visit's diagnoses and complaint texts meet, and the crisis rules they meet."""
    # A crisis always needs a peer: a crisis code or phrase no other rule indicated becomes an indication of its own,
    # named by the crisis rule (a phrase by the rule's id, so the words that matched stay out of every event).
    found: list[Indication] = []
    crisis: list[str] = []
    codes = list(dict.fromkeys(filter(None, map(normalise_icd10, diagnoses))))
    verdicts = [(code, *rules.verdict(code)) for code in codes]
    for code, rule, _crisis in verdicts:
        if rule is not None:
            found.append(indication("diagnosis", code, rule.id, rule.category, rule.substance, rule.reason))
    for rule, word in _keywords(rules.keywords, complaints):
        if not any(i.kind == "keyword" and i.code == word for i in found):
            found.append(indication("keyword", word, rule.id, rule.category, rule.substance, rule.reason))
    for code, taken, crisis_rules in verdicts:
        for rule in crisis_rules:
            crisis.append(rule.id)
            if taken is None and not any(i.kind == "diagnosis" and i.code == code for i in found):
                found.append(indication("diagnosis", code, rule.id, rule.category, rule.substance, rule.reason))
    for rule, _word in _keywords(rules.crisis_keywords, complaints):
        crisis.append(rule.id)
        if not any(i.rule == rule.id for i in found):
            found.append(indication("keyword", rule.id, rule.id, rule.category, rule.substance, rule.reason))
    return Assessment(found, list(dict.fromkeys(crisis)))


def evaluate(rules: Rules, diagnoses: list[str], complaints: list[str]) -> list[Indication]:
    """The indications a visit's diagnoses and complaint texts meet, each with its rule and reason."""
    return assess(rules, diagnoses, complaints).indications
