"""Payer rule sets (data files with effective dates) and the plan-id mapping that picks one."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)


class PayerInfo(_Frozen):
    name: str
    id: str
    claim_filing: str = "MC"


class Modifiers(_Frozen):
    program: list[str] = []
    group: list[str] = []
    telehealth_video: list[str] = Field(default=[], alias="telehealth-video")
    telephone: list[str] = []


class PlaceOfService(_Frozen):
    in_person: str = Field(alias="in-person")
    telehealth: str
    telehealth_at_home: str = Field(alias="telehealth-at-home")


class Units(_Frozen):
    minutes_per_unit: int = Field(gt=0)
    rounding: Literal["at-least-8-minutes", "whole-units"]


class PeriodCap(_Frozen):
    units: int = Field(ge=0)
    months: int = Field(gt=0)


class Caps(_Frozen):
    per_day: int | None = Field(default=None, ge=0)
    per_period: PeriodCap | None = None
    per_episode: int | None = Field(default=None, ge=0)


class DiagnosisRange(_Frozen):
    from_: str = Field(alias="from")
    to: str

    def matches(self, code: str) -> bool:
        """True when the code (no dots) falls in the range, compared on the bounds' own length."""
        return code[:len(self.from_)] >= self.from_ and code[:len(self.to)] <= self.to


class Credential(_Frozen):
    kinds: list[str]
    state: str | None = None


class RuleSet(_Frozen):
    """One payer's billing rules for peer services, valid from `effective_from`."""

    id: str
    effective_from: date
    payer: PayerInfo
    timezone: str = "America/New_York"
    procedure_code: str
    modifiers: Modifiers
    denied_modifiers: list[str] = []
    place_of_service: PlaceOfService
    units: Units
    caps: Caps = Caps()
    required_diagnoses: list[DiagnosisRange] = []
    minimum_age: int | None = None
    rendering_credential: Credential | None = None
    timely_filing_days: int = Field(gt=0)
    fee_schedule: dict[str, Decimal]

    @field_validator("fee_schedule")
    @classmethod
    def _rates_are_money(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        return {code: rate.quantize(Decimal("0.01")) for code, rate in value.items()}

    def rate(self) -> Decimal:
        return self.fee_schedule[self.procedure_code]


class UnknownPayer(LookupError):
    """No rule set for the plan id, or none in effect on the date of service."""


class RuleBook:
    """Every rule set version and the plan mapping; picks the version in effect on a date."""

    def __init__(self, rule_sets: list[RuleSet], plans: dict[str, str]):
        self.versions: dict[str, list[RuleSet]] = {}
        for rs in sorted(rule_sets, key=lambda r: r.effective_from):
            self.versions.setdefault(rs.id, []).append(rs)
        missing = set(plans.values()) - set(self.versions)
        if missing:
            raise ValueError(f"plans map to unknown rule sets: {sorted(missing)}")
        for rs in rule_sets:
            if rs.procedure_code not in rs.fee_schedule:
                raise ValueError(f"rule set {rs.id}: no fee for {rs.procedure_code}")
        self.plans = dict(plans)

    def rule_set_id(self, plan_id: str | None) -> str | None:
        return self.plans.get(plan_id) if plan_id else None

    def resolve(self, rule_set_id: str, service_date: date) -> RuleSet:
        """The version of a rule set in effect on the date of service."""
        in_effect = [rs for rs in self.versions.get(rule_set_id, []) if rs.effective_from <= service_date]
        if not in_effect:
            raise UnknownPayer(rule_set_id)
        return in_effect[-1]

    def latest(self, rule_set_id: str) -> RuleSet:
        if rule_set_id not in self.versions:
            raise UnknownPayer(rule_set_id)
        return self.versions[rule_set_id][-1]

    def payer_id(self, name: str) -> str | None:
        """A rule set id from a rule set id or a plan id."""
        return name if name in self.versions else self.plans.get(name)


def load_rule_book(directory: Path = RULES_DIR, plans_file: Path | None = None) -> RuleBook:
    """Read every *.yaml rule set in a folder and the plan mapping (plans.yaml)."""
    plans_file = plans_file or directory / "plans.yaml"
    rule_sets = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name in (plans_file.name, "adjustment_codes.yaml"):  # the plan mapping and the CARC/RARC table
            continue
        try:
            rule_sets.append(RuleSet.model_validate(yaml.safe_load(path.read_text())))
        except Exception as exc:
            raise ValueError(f"rule set file {path.name}: {exc}") from exc
    plans = yaml.safe_load(plans_file.read_text()) or {}
    return RuleBook(rule_sets, {str(k): str(v) for k, v in plans.items()})
