"""What is checked again when an approved claim is put in a batch: facts that may have changed since pricing."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from services.contracts import PeerEncounterCompleted

from .claims import FUTURE_DATE, Hold, credential_holds
from .facility import ServiceFacility
from .rules import RuleSet
from .units import units_for

NO_FACILITY = "no-service-facility"
UNITS_EXCEED = "units-exceed-minutes"
NO_PAYER_NUMBER = "no-payer-claim-number"


def export_holds(*, rs: RuleSet, document: dict, encounter: PeerEncounterCompleted, frequency: str,
                 facility_code: str, facility: ServiceFacility | None, payer_claim_number: str | None,
                 now: datetime) -> list[Hold]:
    """Every reason this claim must not leave in a file today (empty: it may)."""
    holds: list[Hold] = []
    if facility is None:
        holds.append(Hold(NO_FACILITY, f"billing has no name, address and NPI for facility {facility_code}"
                                       " (POST /facilities)"))
    today = now.astimezone(ZoneInfo(rs.timezone)).date()
    days = sorted({date.fromisoformat(line["service_date"]) for line in document["lines"]})
    if days and days[-1] > today:
        holds.append(Hold(FUTURE_DATE, f"the date of service {days[-1].isoformat()} is after today"))
    for n, line in enumerate(document["lines"], start=1):
        supported = units_for(int(line.get("minutes") or 0), rs.units)
        if int(line["units"]) > supported:
            holds.append(Hold(UNITS_EXCEED, f"line {n} bills {line['units']} units; {line.get('minutes')} minutes"
                                            f" support {supported} under {rs.id}"))
    if days:
        holds += [h for h in credential_holds(rs, encounter, days[0]) if h.code == "peer-not-credentialed"]
    if frequency in ("7", "8") and not payer_claim_number:
        holds.append(Hold(NO_PAYER_NUMBER, "the original claim has no payer claim control number (277CA or 835)"))
    return holds
