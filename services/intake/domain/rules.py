"""A program's rule file: read and checked once at start, so a typo stops the service instead of missing patients."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
_CODE_PREFIX = re.compile(r"^[A-Z][0-9A-Z]{1,6}$")
_FIELD = re.compile(r"^([A-Z][A-Z0-9]{2})-([1-9][0-9]?)$")
_CLAUSE_END = re.compile(r"[.,;:!?\n]")


class RulesError(Exception):
    """The rule file cannot be used; the text names the file, the rule and the field at fault."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Rule(_Strict):
    id: str = Field(pattern=_ID)
    enabled: bool = True
    reason: str = Field(min_length=1, max_length=200)


class DiagnosisSpec(_Rule):
    """ICD-10-CM codes: prefixes (dot optional) and/or a regex, narrowed by intent and 7th character."""

    category: str = Field(pattern=_ID)
    substance: str | None = Field(None, pattern=_ID)
    codes: list[str] | None = Field(None, min_length=1)
    pattern: str | None = None
    # T36-T65: the character after the drug names the intent (1 accidental, 2 intentional self-harm, 3 assault,
    # 4 undetermined, 5 adverse effect, 6 underdosing); the 7th character the encounter (A initial, D, S).
    intents: list[Literal[1, 2, 3, 4, 5, 6]] | None = Field(None, min_length=1)
    encounters: list[Literal["A", "D", "S"]] | None = Field(None, min_length=1)

    @field_validator("codes")
    @classmethod
    def _prefixes(cls, codes: list[str]) -> list[str]:
        out = [c.strip().replace(".", "").upper() for c in codes]
        bad = [c for c in out if not _CODE_PREFIX.match(c)]
        if bad:
            raise ValueError(f"not ICD-10-CM code prefixes: {', '.join(bad)}")
        return out

    @field_validator("pattern")
    @classmethod
    def _regex(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression ({exc})") from None
        return pattern

    @model_validator(mode="after")
    def _something_to_match(self) -> "DiagnosisSpec":
        if not self.codes and not self.pattern:
            raise ValueError("a diagnosis rule needs codes or a pattern")
        return self


class KeywordSpec(_Rule):
    """Whole words or phrases, any case, in the chief complaint or admit reason."""

    category: str = Field("chief-complaint", pattern=_ID)
    substance: str | None = Field(None, pattern=_ID)
    words: list[str] = Field(min_length=1)
    # Words just before a match that undo it ("denies suicidal ideation"): at most three words back, same clause.
    negations: list[str] = []

    @field_validator("words", "negations")
    @classmethod
    def _not_blank(cls, words: list[str]) -> list[str]:
        if any(not str(w).strip() for w in words):
            raise ValueError("a word may not be empty")
        return [str(w).strip() for w in words]


class OrderSpec(_Rule):
    """An HL7 order (ORM^O01, OMG^O19) for a peer consult: the orderable's code in the fields named."""

    fields: list[str] = Field(["OBR-4"], min_length=1)
    codes: list[str] = Field(min_length=1)

    @field_validator("fields")
    @classmethod
    def _fields(cls, fields: list[str]) -> list[str]:
        bad = [f for f in fields if not _FIELD.match(f)]
        if bad:
            raise ValueError(f"not HL7 field names like OBR-4: {', '.join(bad)}")
        return fields


class ServiceRequestSpec(_Rule):
    """A FHIR ServiceRequest for a peer consult: a coding of ServiceRequest.code (system optional)."""

    system: str | None = None
    codes: list[str] = Field(min_length=1)


class CrisisSpec(_Strict):
    diagnoses: list[DiagnosisSpec] = []
    keywords: list[KeywordSpec] = []


class RuleFile(_Strict):
    program: str | None = Field(None, min_length=1, max_length=64)
    diagnoses: list[DiagnosisSpec] = []
    keywords: list[KeywordSpec] = []
    orders: list[OrderSpec] = []
    service_requests: list[ServiceRequestSpec] = []
    crisis: CrisisSpec = CrisisSpec()

    @model_validator(mode="after")
    def _unique_ids(self) -> "RuleFile":
        ids = [r.id for group in (self.diagnoses, self.keywords, self.orders, self.service_requests,
                                  self.crisis.diagnoses, self.crisis.keywords) for r in group]
        doubled = sorted({i for i in ids if ids.count(i) > 1})
        if doubled:
            raise ValueError(f"rule ids must be unique: {', '.join(doubled)}")
        return self


@dataclass(frozen=True)
class DiagnosisRule:
    id: str
    category: str
    substance: str | None
    reason: str
    prefixes: tuple[str, ...] = ()
    pattern: re.Pattern | None = None
    intents: frozenset[str] | None = None
    encounters: frozenset[str] | None = None

    def matches(self, code: str) -> bool:
        """Whether a normalised ICD-10-CM code (no dot) meets this rule."""
        if self.prefixes and not code.startswith(self.prefixes):
            return False
        if self.pattern is not None and not self.pattern.search(code):
            return False
        if self.intents is not None and intent_of(code) not in self.intents:
            return False
        return self.encounters is None or (len(code) == 7 and code[6] in self.encounters)


@dataclass(frozen=True)
class KeywordRule:
    id: str
    category: str
    substance: str | None
    pattern: re.Pattern
    reason: str
    negation: re.Pattern | None = None

    def find(self, text: str) -> str | None:
        """The first word or phrase of this rule in the text, lower case, that no negation just before undoes."""
        if self.negation is None:
            match = self.pattern.search(text or "")
            return match.group(1).lower() if match else None
        for match in self.pattern.finditer(text or ""):
            # A negation reaches at most three words back and never past a comma or full stop, so "no pulse at
            # first, suicidal" still counts: a missed crisis costs more than a false alarm.
            clause = _CLAUSE_END.split(text[:match.start()])[-1]
            if not self.negation.search(" ".join(clause.split()[-3:])):
                return match.group(1).lower()
        return None


@dataclass(frozen=True)
class OrderRule:
    id: str
    fields: tuple[tuple[str, int], ...]
    codes: frozenset[str]
    reason: str


@dataclass(frozen=True)
class ServiceRequestRule:
    id: str
    system: str | None
    codes: frozenset[str]
    reason: str


@dataclass(frozen=True)
class Rules:
    program: str
    diagnoses: tuple[DiagnosisRule, ...]
    keywords: tuple[KeywordRule, ...]
    orders: tuple[OrderRule, ...] = ()
    service_requests: tuple[ServiceRequestRule, ...] = ()
    crisis_diagnoses: tuple[DiagnosisRule, ...] = ()
    crisis_keywords: tuple[KeywordRule, ...] = ()
    # code -> (the rule that takes it, the crisis rules it meets): a feed repeats few codes, and every message's
    # codes would otherwise be tried against every rule.
    verdicts: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def verdict(self, code: str) -> tuple[DiagnosisRule | None, tuple[DiagnosisRule, ...]]:
        """The first enabled diagnosis rule a normalised code meets, and every crisis rule it meets."""
        found = self.verdicts.get(code)
        if found is None:
            if len(self.verdicts) >= 100_000:  # ICD-10-CM has about 75,000 codes; anything beyond is junk input
                self.verdicts.clear()
            found = self.verdicts[code] = (next((r for r in self.diagnoses if r.matches(code)), None),
                                           tuple(r for r in self.crisis_diagnoses if r.matches(code)))
        return found


def intent_of(code: str) -> str | None:
    """The intent character of a T-code without its dot: the 6th, or the 5th before an X placeholder (T36.91XA)."""
    if len(code) < 6:
        return None
    return code[4] if code[5] == "X" else code[5]


def _words(words: list[str]) -> re.Pattern:
    return re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE)


def _diagnosis(spec: DiagnosisSpec) -> DiagnosisRule:
    return DiagnosisRule(spec.id, spec.category, spec.substance, spec.reason, tuple(spec.codes or ()),
                         re.compile(spec.pattern) if spec.pattern else None,
                         frozenset(map(str, spec.intents)) if spec.intents else None,
                         frozenset(spec.encounters) if spec.encounters else None)


def _keyword(spec: KeywordSpec) -> KeywordRule:
    return KeywordRule(spec.id, spec.category, spec.substance, _words(spec.words), spec.reason,
                       _words(spec.negations) if spec.negations else None)


def _order(spec: OrderSpec) -> OrderRule:
    fields = tuple((m[1], int(m[2])) for m in map(_FIELD.match, spec.fields))
    return OrderRule(spec.id, fields, frozenset(c.upper() for c in spec.codes), spec.reason)


def _where(loc: tuple, doc: dict) -> str:
    """A validation error's location, with the rule's id when there is one: diagnoses[3] (poisoning-opioids).codes."""
    parts, node = [], doc
    for step in loc:
        if isinstance(step, int):
            parts[-1] += f"[{step}]"
            node = node[step] if isinstance(node, list) and step < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                parts[-1] += f" ({node['id']})"
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) else None
    return ".".join(parts) or "(file)"


def on(group: list) -> list:
    """The rules a program has switched on."""
    return [rule for rule in group if rule.enabled]


def parse_rules(doc, name: str) -> Rules:
    """Rules from a parsed rule file; RulesError names every problem found."""
    if not isinstance(doc, dict):
        raise RulesError(f"rule file {name}: expected a mapping with program, diagnoses, keywords, ...")
    try:
        spec = RuleFile.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'], doc)}: {e['msg']}" for e in exc.errors())
        raise RulesError(f"rule file {name}: {problems}") from None
    return Rules(
        program=spec.program or Path(name).stem,
        diagnoses=tuple(map(_diagnosis, on(spec.diagnoses))),
        keywords=tuple(map(_keyword, on(spec.keywords))),
        orders=tuple(map(_order, on(spec.orders))),
        service_requests=tuple(ServiceRequestRule(r.id, r.system, frozenset(r.codes), r.reason)
                               for r in on(spec.service_requests)),
        crisis_diagnoses=tuple(map(_diagnosis, on(spec.crisis.diagnoses))),
        crisis_keywords=tuple(map(_keyword, on(spec.crisis.keywords))))


def load_rules(path: Path) -> Rules:
    """Read and check a program's rule file (RulesError when it is missing, not YAML or not valid)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RulesError(f"rule file {path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise RulesError(f"rule file {path}: not valid YAML{where}") from None
    return parse_rules(doc, str(path))
