"""Program settings per facility, read from a YAML data file, with defaults for facilities not listed."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

import yaml

from .care_settings import crisis_routes, payer_credentials
from .followup import overlapping

DEFAULT_FILE = Path(__file__).resolve().parents[1] / "programs" / "default.yaml"
DEFAULT_WEIGHTS = {"language": 3.0, "lived_experience": 3.0, "gender": 2.0, "pathway": 2.0, "load": 2.0,
                   "age": 1.0, "culture": 1.0, "fairness": 1.0}


class ProgramError(ValueError):
    """The program settings file is invalid."""


@dataclass(frozen=True)
class Program:
    """What one facility's peer program asks for."""

    facility: str = "*"
    min_recovery_years: float = 2
    accepted_certifications: tuple[str, ...] = ("CPRS",)
    ack_timeout_minutes: float = 10
    arrival_target_minutes: float = 60
    escalation_steps: int = 3
    telehealth_substitutes: bool = False
    max_visit_age_hours: float = 12
    max_encounter_minutes: float = 240
    supervisor: str | None = None
    follow_up_hours: tuple[float, ...] = (72, 168, 720, 1440, 2160)
    re_offer_days: tuple[float, ...] = (30, 90)
    # Each touchpoint's window: open this long before its due time and this long after (one entry per touchpoint).
    follow_up_window_before_hours: tuple[float, ...] = (24, 48, 168, 168, 168)
    follow_up_window_after_hours: tuple[float, ...] = (24, 48, 168, 168, 168)
    follow_up_closing_reminder_hours: float = 24
    re_offer_window_hours: float = 168
    preferred_pathways: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    # Issue 14 (care), read by domain/crisis.py, domain/credentials.py and domain/supervision.py.
    crisis_routes: tuple[Mapping[str, Any], ...] = ({"route": "988", "contact": None},)
    payer_credentials: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)
    supervision_hours: float = 2
    supervision_period_days: int = 30
    renewal_warning_days: tuple[int, ...] = (60, 30)

    @property
    def ack_timeout(self) -> timedelta:
        return timedelta(minutes=self.ack_timeout_minutes)

    @property
    def max_visit_age(self) -> timedelta:
        return timedelta(hours=self.max_visit_age_hours)

    @property
    def max_encounter(self) -> timedelta:
        return timedelta(minutes=self.max_encounter_minutes)


def _coerce(base: Program, raw: Mapping[str, Any], where: str) -> Program:
    known = {f.name for f in fields(Program)} - {"facility"}
    unknown = set(raw) - known
    if unknown:
        raise ProgramError(f"{where}: unknown settings {sorted(unknown)}")
    values = dict(raw)
    for name in ("accepted_certifications", "follow_up_hours", "re_offer_days", "follow_up_window_before_hours",
                 "follow_up_window_after_hours", "renewal_warning_days"):
        if name in values:
            values[name] = tuple(values[name])
    if "preferred_pathways" in values:
        values["preferred_pathways"] = {k: tuple(v) for k, v in values["preferred_pathways"].items()}
    try:
        if "crisis_routes" in values:
            values["crisis_routes"] = crisis_routes(values["crisis_routes"])
        if "payer_credentials" in values:
            values["payer_credentials"] = payer_credentials(values["payer_credentials"])
    except ValueError as exc:
        raise ProgramError(f"{where}: {exc}") from None
    if "weights" in values:
        bad = set(values["weights"]) - set(DEFAULT_WEIGHTS)
        if bad or any(float(w) < 0 for w in values["weights"].values()):
            raise ProgramError(f"{where}: weights must be non-negative and among {sorted(DEFAULT_WEIGHTS)}")
        values["weights"] = {**base.weights, **{k: float(v) for k, v in values["weights"].items()}}
    if int(values.get("escalation_steps", base.escalation_steps)) < 1:
        raise ProgramError(f"{where}: escalation_steps must be at least 1")
    program = replace(base, **values)
    _check_windows(program, where)
    return program


def _check_windows(program: Program, where: str) -> None:
    """Every touchpoint has a window of its own: widths for each, none negative, no two overlapping."""
    hours, before, after = (program.follow_up_hours, program.follow_up_window_before_hours,
                            program.follow_up_window_after_hours)
    if not len(hours) == len(before) == len(after):
        raise ProgramError(f"{where}: follow_up_window_before_hours and follow_up_window_after_hours need one width"
                           f" per touchpoint of follow_up_hours ({len(hours)})")
    if any(float(w) < 0 for w in (*before, *after)) or program.follow_up_closing_reminder_hours < 0 \
            or program.re_offer_window_hours < 0:
        raise ProgramError(f"{where}: window widths and the closing reminder must not be negative")
    clash = overlapping(hours, before, after)
    if clash is not None:
        raise ProgramError(f"{where}: the windows of the touchpoints at {clash[0]:g} h and {clash[1]:g} h overlap;"
                           " a contact must count for one window")


class Programs:
    """Every facility's program, looked up by facility id."""

    def __init__(self, defaults: Program, facilities: Mapping[str, Program]):
        self.defaults = defaults
        self.facilities = dict(facilities)

    def for_facility(self, facility: str) -> Program:
        program = self.facilities.get(facility)
        if program is None:
            # Cached: a facility without its own section gets the defaults under its own name.
            program = self.facilities[facility] = replace(self.defaults, facility=facility)
        return program

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "Programs":
        defaults = _coerce(Program(), raw.get("defaults") or {}, "defaults")
        facilities = {fac: replace(_coerce(defaults, spec or {}, fac), facility=fac)
                      for fac, spec in (raw.get("facilities") or {}).items()}
        return cls(defaults, facilities)

    @classmethod
    def load(cls, path: Path | None = None) -> "Programs":
        return cls.from_mapping(yaml.safe_load(Path(path or DEFAULT_FILE).read_text()) or {})
