"""FHIR search parameters of the referral API, parsed into (column, operator, value) filters (pure)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

DEFAULT_COUNT = 50
MAX_COUNT = 200
MAX_OFFSET = 10_000_000  # paging past this is a mistake; the database takes offsets up to 2^63
DATE_PREFIXES = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "="}
COMMON = {"_count", "_offset", "_lastUpdated", "_format"}
PARAMETERS = {
    "ServiceRequest": {"identifier", "patient", "patient:identifier", "status"},
    "Task": {"identifier", "focus", "owner", "status", "patient", "patient:identifier"},
    "Consent": {"identifier", "patient", "patient:identifier", "status"},
}
REFERENCE_TYPES = {"focus": "ServiceRequest", "owner": "PractitionerRole"}


class SearchError(ValueError):
    """A search the API cannot run: names the parameter, never its value."""


@dataclass
class Search:
    where: list[tuple[str, str, object]] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0
    include_focus: bool = False    # _include=Task:focus: the matched Tasks' ServiceRequests too


def parse_instant(value: str, name: str) -> tuple[str, datetime]:
    """A FHIR date search value with its prefix, as (SQL operator, aware datetime)."""
    op = "="
    if value[:2] in DATE_PREFIXES:
        op, value = DATE_PREFIXES[value[:2]], value[2:]
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when
        when.astimezone(timezone.utc)  # 9999-12-31T23:00-14:00 has no UTC equivalent and the driver would fail
    except (ValueError, OverflowError):
        raise SearchError(f"{name} is not a valid date") from None
    return op, when


def bounded_int(value: str, name: str, low: int, high: int) -> int:
    """A whole-number parameter within its bounds, else a SearchError naming it."""
    try:
        number = int(value)
    except ValueError:
        raise SearchError(f"{name} must be an integer") from None
    if not low <= number <= high:
        raise SearchError(f"{name} must be between {low} and {high}")
    return number


def _reference(value: str, name: str) -> str:
    """A reference search value as stored: Type/id (a bare id gets the parameter's target type)."""
    target = REFERENCE_TYPES[name]
    if "/" not in value:
        return f"{target}/{value}"
    if value.split("/")[-2] != target:
        raise SearchError(f"{name} must reference a {target}")
    return "/".join(value.split("/")[-2:])


def parse(resource_type: str, params: list[tuple[str, str]]) -> Search:
    """Turn query parameters into filters; unknown parameters are an error rather than silently ignored."""
    allowed = PARAMETERS[resource_type] | COMMON | ({"_include"} if resource_type == "Task" else set())
    search = Search()
    for name, value in params:
        if name not in allowed:
            raise SearchError(f"unknown search parameter {name} for {resource_type}")
        if name == "_count":
            search.count = bounded_int(value, name, 0, MAX_COUNT)
        elif name == "_offset":
            search.offset = bounded_int(value, name, 0, MAX_OFFSET)
        elif name == "_format":
            continue
        elif name == "_include":
            if resource_type != "Task" or value not in ("Task:focus", "Task:focus:ServiceRequest"):
                raise SearchError("_include supports only Task:focus")
            search.include_focus = True
        elif not value:
            raise SearchError(f"{name} needs a value")
        elif name == "_lastUpdated":
            search.where.append(("last_updated", *parse_instant(value, name)))
        elif name in ("identifier", "patient", "patient:identifier"):
            if "|" not in value:
                raise SearchError(f"{name} must be system|value")
            search.where.append(("identifier" if name == "identifier" else "patient", "=", value))
        elif name == "status":
            search.where.append(("status", "= ANY", value.split(",")))
        else:
            search.where.append((name, "=", _reference(value, name)))
    return search


def searchset(total: int, links: list[dict], entries: list[dict]) -> dict:
    """A searchset Bundle; no entry element when nothing matched (FHIR allows no empty arrays)."""
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if entries:
        bundle["entry"] = entries
    return bundle
