"""The subscriber (the patient) of loop 2010BA, from intake's billing lookup: complete or which elements are missing."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# DMG03: F, M or U (005010X222A1 has no code for other genders).
GENDER_CODES = {"female": "F", "male": "M"}
_STATE = re.compile(r"^[A-Za-z]{2}$")


@dataclass(frozen=True)
class Subscriber:
    """What NM1*IL, N3, N4 and DMG of loop 2010BA carry."""

    last_name: str
    first_name: str
    middle_name: str
    birth_date: date
    gender: str  # F, M or U
    line1: str
    line2: str
    city: str
    state: str
    postal_code: str  # 5 or 9 digits


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _birth_date(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _postal_code(value: object) -> str:
    digits = re.sub(r"[\s-]", "", _text(value))
    return digits if digits.isdigit() and len(digits) in (5, 9) else ""


def from_intake(body: dict | None) -> Subscriber | list[str]:
    """The subscriber, or the names (never the values) of the elements missing or unusable in intake's answer."""
    if body is None:
        return ["visit unknown to intake"]
    address = body.get("address") if isinstance(body.get("address"), dict) else {}
    values = {"last name": _text(body.get("last_name")), "first name": _text(body.get("first_name")),
              "birth date": _birth_date(body.get("birth_date")), "address line": _text(address.get("line1")),
              "city": _text(address.get("city")), "state": _text(address.get("state")),
              "postal code": _postal_code(address.get("postal_code"))}
    if values["state"] and not _STATE.match(values["state"]):
        values["state"] = ""  # N402 is a two-letter code; anything else would fail the file
    missing = [name for name, value in values.items() if not value]
    if missing:
        return missing
    return Subscriber(values["last name"], values["first name"], _text(body.get("middle_name")), values["birth date"],
                      GENDER_CODES.get(body.get("gender"), "U"), values["address line"],
                      _text(address.get("line2")), values["city"], values["state"].upper(), values["postal code"])
