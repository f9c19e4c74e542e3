"""The care settings of a program (crisis routes, payer credential rules), checked when the program file is read."""
from __future__ import annotations

from datetime import date
from typing import Any, Mapping

CRISIS_ROUTES = ("on-call-clinician", "988", "mobile-crisis", "ed-psychiatry", "other")


def crisis_routes(raw: Any) -> tuple[Mapping[str, Any], ...]:
    """The facility's crisis routes, first the one used unless the peer picks another: `{route, contact}` each."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("crisis_routes must be a non-empty list of {route, contact}")
    out = []
    for item in raw:
        if not isinstance(item, Mapping) or item.get("route") not in CRISIS_ROUTES or set(item) - {"route", "contact"}:
            raise ValueError(f"crisis_routes: each is {{route, contact}} with route among {list(CRISIS_ROUTES)}")
        contact = item.get("contact")
        out.append({"route": str(item["route"]), "contact": str(contact) if contact else None})
    return tuple(out)


def payer_credentials(raw: Any) -> dict[str, tuple[Mapping[str, Any], ...]]:
    """Per insurance plan id (IN1-2), the rendering credential the payer accepts, as versions with their start date
    (the same rule as billing's payer rule sets' `rendering_credential`, kept here as pairing's own data)."""
    if not isinstance(raw, Mapping):
        raise ValueError("payer_credentials must map plan ids to [{effective_from, kinds, state}]")
    out: dict[str, tuple[Mapping[str, Any], ...]] = {}
    for plan, versions in raw.items():
        if not isinstance(versions, list) or not versions:
            raise ValueError(f"payer_credentials.{plan}: a list of versions")
        rows = []
        for v in versions:
            if not isinstance(v, Mapping) or set(v) - {"effective_from", "kinds", "state"} or not v.get("kinds"):
                raise ValueError(f"payer_credentials.{plan}: each version is {{effective_from, kinds, state}}")
            start = v.get("effective_from")
            rows.append({"effective_from": start if isinstance(start, date) else date.fromisoformat(str(start)),
                         "kinds": tuple(str(k) for k in v["kinds"]), "state": v.get("state")})
        out[str(plan)] = tuple(sorted(rows, key=lambda r: r["effective_from"]))
    return out
