"""Claim preparation: an encounter and its visit under a payer's rule set become one line, or holds."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from services.contracts import Payer, PeerEncounterCompleted, Visit
from services.runtime.npi import is_valid_npi

from .rules import RuleBook, RuleSet, UnknownPayer
from .units import cap_allowance, units_for

PEER_TAXONOMY = "175T00000X"
MAX_DIAGNOSES = 12
MAX_POINTERS = 4
MAX_MODIFIERS = 4
FUTURE_DATE = "future-date-of-service"


@dataclass(frozen=True)
class Hold:
    """Why a claim cannot go out as it is: a stable code for machines, a detail for the biller."""

    code: str
    detail: str


@dataclass(frozen=True)
class Usage:
    """Units the same member already has under the rule set, in each cap window."""

    day: int = 0
    period: int = 0
    episode: int = 0


@dataclass
class Prepared:
    """The outcome of preparing one encounter: the claim document and its status."""

    status: str
    payer: str | None
    plan_id: str | None
    member_id: str | None
    service_date: str
    lines: list[dict] = field(default_factory=list)
    diagnoses: list[str] = field(default_factory=list)
    hold_reasons: list[Hold] = field(default_factory=list)
    rendering: dict = field(default_factory=dict)
    rule_set_version: str | None = None

    def document(self) -> dict:
        """The JSON stored with the claim and served by the API."""
        doc = asdict(self)
        doc["hold_reasons"] = [asdict(h) for h in self.hold_reasons]
        return doc

    @property
    def units(self) -> int:
        return sum(line["units"] for line in self.lines)

    @property
    def charge(self) -> Decimal:
        return sum((Decimal(line["charge"]) for line in self.lines), Decimal("0.00"))


def encounter_minutes(encounter: PeerEncounterCompleted) -> int:
    """The encounter's minutes as reported, else from its start and end."""
    if encounter.minutes is not None:
        return encounter.minutes
    return max(int((encounter.ended_at - encounter.started_at).total_seconds() // 60), 0)


def service_date(encounter: PeerEncounterCompleted, timezone: str) -> date:
    """The date of service: the encounter's start date where the payer is."""
    return encounter.started_at.astimezone(ZoneInfo(timezone)).date()


def _payer(visit: Visit | None) -> Payer | None:
    """The visit's insurance; None also for a visit billing knows only as cancelled (no facts)."""
    return visit.payer if visit else None


def modifiers_for(rs: RuleSet, modality: str, kind: str) -> list[str]:
    mods = list(rs.modifiers.program)
    if kind == "group":
        mods += rs.modifiers.group
    if modality == "telehealth-video":
        mods += rs.modifiers.telehealth_video
    elif modality == "telephone":
        mods += rs.modifiers.telephone
    return list(dict.fromkeys(mods))


def place_of_service(rs: RuleSet, modality: str, at_home: bool) -> str:
    if modality == "in-person":
        return rs.place_of_service.in_person
    return rs.place_of_service.telehealth_at_home if at_home else rs.place_of_service.telehealth


def order_diagnoses(diagnoses: list[str], rs: RuleSet) -> list[str]:
    """Qualifying diagnoses first (the principal one is the first), dots removed, at most 12."""
    codes = list(dict.fromkeys(d.replace(".", "").upper() for d in diagnoses))
    qualifying = [c for c in codes if any(r.matches(c) for r in rs.required_diagnoses)]
    return (qualifying + [c for c in codes if c not in qualifying])[:MAX_DIAGNOSES]


def credential_holds(rs: RuleSet, encounter: PeerEncounterCompleted, day: date) -> list[Hold]:
    holds = []
    if not is_valid_npi(encounter.specialist_npi):
        holds.append(Hold("rendering-npi-invalid", "the rendering peer's NPI fails its check digit"))
    need = rs.rendering_credential
    if need is None:
        return holds
    valid = [c for c in encounter.credentials or []
             if c.kind in need.kinds and (need.state is None or c.state == need.state) and c.expires_on >= day]
    if not valid:
        where = f" in {need.state}" if need.state else ""
        holds.append(Hold("peer-not-credentialed",
                          f"the rendering peer held no valid {'/'.join(need.kinds)}{where} on {day.isoformat()}"))
    return holds


def visit_holds(rs: RuleSet, visit: Visit | None, diagnoses: list[str]) -> list[Hold]:
    holds = []
    payer = _payer(visit)
    if not (payer and payer.member_id):
        holds.append(Hold("no-member-id", "the visit has no Medicaid member id (IN1-36/IN1-49)"))
    if not diagnoses:
        holds.append(Hold("no-diagnosis", "the visit has no diagnosis to claim"))
    elif rs.required_diagnoses and not any(r.matches(diagnoses[0]) for r in rs.required_diagnoses):
        ranges = ", ".join(f"{r.from_}-{r.to}" for r in rs.required_diagnoses)
        holds.append(Hold("no-qualifying-diagnosis", f"{rs.id} requires a diagnosis in {ranges}"))
    age = visit.age_years if visit else None
    if rs.minimum_age is not None:
        if age is None:
            holds.append(Hold("age-unknown", f"{rs.id} requires age {rs.minimum_age}+ and the age is unknown"))
        elif age < rs.minimum_age:
            holds.append(Hold("under-minimum-age", f"{rs.id} requires age {rs.minimum_age} or older"))
    return holds


def resolve(book: RuleBook, visit: Visit | None,
            encounter: PeerEncounterCompleted) -> tuple[RuleSet | None, Hold | None]:
    """The rule set for the visit's plan on the date of service, or the hold saying why there is none."""
    payer = _payer(visit)
    plan_id = payer.plan_id if payer else None
    rs_id = book.rule_set_id(plan_id)
    if rs_id is None:
        return None, Hold("unknown-payer", "the visit's insurance plan maps to no payer rule set"
                          if plan_id else "the visit has no insurance plan")
    try:
        rs = book.latest(rs_id)
        return book.resolve(rs_id, service_date(encounter, rs.timezone)), None
    except UnknownPayer:
        return None, Hold("unknown-payer", f"no {rs_id} rule set in effect on the date of service")


def prepare(rs: RuleSet | None, visit: Visit | None, encounter: PeerEncounterCompleted, usage: Usage,
            now: datetime, *, unknown: Hold | None = None) -> Prepared:
    """Price one encounter as one claim line, with every reason it cannot be billed as it is."""
    payer = _payer(visit)
    base = dict(plan_id=payer.plan_id if payer else None, member_id=payer.member_id if payer else None,
                rendering={"npi": encounter.specialist_npi, "taxonomy": PEER_TAXONOMY,
                           "specialist_id": encounter.specialist_id, "name": encounter.specialist_name})
    if rs is None:
        day = encounter.started_at.date()
        return Prepared(status="held", payer=None, service_date=day.isoformat(),
                        hold_reasons=[unknown or Hold("unknown-payer", "no payer rule set")], **base)
    day = service_date(encounter, rs.timezone)
    diagnoses = order_diagnoses(visit.diagnoses if visit else [], rs)
    holds = visit_holds(rs, visit, diagnoses) + credential_holds(rs, encounter, day)
    minutes = encounter_minutes(encounter)
    units = units_for(minutes, rs.units)
    if units == 0:
        holds.append(Hold("too-few-minutes", f"{minutes} minutes make no billable unit under {rs.id}"))
    allowed, cut = cap_allowance(units, rs.caps, used_day=usage.day, used_period=usage.period,
                                 used_episode=usage.episode)
    if units and allowed == 0:
        holds.append(Hold("cap-reached", f"the member's {'/'.join(cut)} cap under {rs.id} is used up"))
    elif allowed < units:
        units = allowed  # bill what fits under the cap; the rest is not billable
    today = now.astimezone(ZoneInfo(rs.timezone)).date()
    if day > today:
        holds.append(Hold(FUTURE_DATE, f"the date of service {day.isoformat()} is after today"))
    if today > day + timedelta(days=rs.timely_filing_days):
        holds.append(Hold("past-timely-filing", f"{rs.id} accepts claims up to {rs.timely_filing_days} days"
                          " after the date of service"))
    modifiers = modifiers_for(rs, encounter.modality, encounter.kind)
    denied = [m for m in modifiers if m in rs.denied_modifiers]
    if denied or len(modifiers) > MAX_MODIFIERS:
        holds.append(Hold("modifier-not-allowed", f"modifiers {modifiers} break {rs.id}'s rules"))
    line = {"code": rs.procedure_code, "modifiers": modifiers[:MAX_MODIFIERS], "units": units,
            "minutes": minutes, "service_date": day.isoformat(),
            "place_of_service": place_of_service(rs, encounter.modality, bool(encounter.patient_at_home)),
            "charge": str(rs.rate() * units),
            "diagnosis_pointers": list(range(1, min(len(diagnoses), MAX_POINTERS) + 1))}
    return Prepared(status="held" if holds else "prepared", payer=rs.id, service_date=day.isoformat(),
                    lines=[line], diagnoses=diagnoses, hold_reasons=holds,
                    rule_set_version=rs.effective_from.isoformat(), **base)
