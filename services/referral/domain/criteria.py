"""Subscription criteria this server evaluates: Task by status, owner and focus, ServiceRequest by status (pure)."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl

TASK_STATUSES = frozenset({"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled",
                           "in-progress", "on-hold", "failed", "completed", "entered-in-error"})
REQUEST_STATUSES = frozenset({"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"})
# type -> parameter -> the reference type its values may name (None: a status code)
SUPPORTED = {"Task": {"status": None, "owner": "PractitionerRole", "focus": "ServiceRequest"},
             "ServiceRequest": {"status": None}}
HELP = "supported: Task?status=&owner=&focus= and ServiceRequest?status= (comma = or, & = and)"


class CriteriaError(ValueError):
    """Criteria this server cannot evaluate; the text names the part (never echoes a value) and what is supported."""


@dataclass(frozen=True)
class Criteria:
    """What a change must match: the resource type and, per parameter, the values any one of which matches."""

    resource_type: str
    statuses: tuple[str, ...] | None = None
    owners: tuple[str, ...] | None = None     # PractitionerRole ids (our specialist ids)
    focuses: tuple[str, ...] | None = None    # ServiceRequest ids (the referral's id)

    @property
    def canonical(self) -> str:
        """One spelling per meaning (sorted parameters and values): the subscription's natural key."""
        parts = [(name, values) for name, values in (("focus", self.focuses), ("owner", self.owners),
                                                    ("status", self.statuses)) if values is not None]
        return f"{self.resource_type}?" + "&".join(f"{n}={','.join(v)}" for n, v in parts)


def parse(value: object) -> Criteria:
    """`Type?param=a,b&param2=c` as Criteria; CriteriaError for anything this server would not evaluate."""
    if not isinstance(value, str) or "?" not in value:
        raise CriteriaError(f"criteria must be a search URL: {HELP}")
    rtype, _, query = value.partition("?")
    if rtype not in SUPPORTED:
        raise CriteriaError(f"criteria: resource type not supported; {HELP}")
    params = parse_qsl(query, keep_blank_values=True, strict_parsing=False) if query else []
    if not params:
        raise CriteriaError(f"criteria names no parameter; {HELP}")
    found: dict[str, tuple[str, ...]] = {}
    for name, raw in params:
        if name not in SUPPORTED[rtype]:
            raise CriteriaError(f"criteria: {rtype} parameter {_safe(name)} not supported; {HELP}")
        if name in found:
            raise CriteriaError(f"criteria: parameter {name} given twice; list its values with commas")
        values = [v.strip() for v in raw.split(",")]
        if not values or any(not v for v in values):
            raise CriteriaError(f"criteria: parameter {name} has an empty value")
        found[name] = tuple(sorted({_value(rtype, name, v) for v in values}))
    return Criteria(rtype, statuses=found.get("status"), owners=found.get("owner"), focuses=found.get("focus"))


def _value(rtype: str, name: str, value: str) -> str:
    target = SUPPORTED[rtype][name]
    if target is None:
        if value not in (TASK_STATUSES if rtype == "Task" else REQUEST_STATUSES):
            raise CriteriaError(f"criteria: a {name} value is not a {rtype} status")
        return value
    rid = value.removeprefix(f"{target}/")
    try:
        return str(uuid.UUID(rid))
    except ValueError:
        raise CriteriaError(f"criteria: {name} must be {target}/<id> or <id>") from None


def _safe(name: str) -> str:
    """A parameter name fit to quote back (modifiers such as status:not are named, odd bytes are not)."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_:.-]{0,40}", name) else "(unreadable)"
