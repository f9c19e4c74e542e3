"""The crisis path: which route a crisis goes to, and the outcomes a hand-off can have."""
from __future__ import annotations

from dataclasses import dataclass

from .programs import Program

OUTCOMES = ("handed-off", "patient-declined", "no-answer", "resolved", "transferred", "other")
RAISED_BY_INTAKE = "intake"


class UnknownRoute(ValueError):
    """A route the facility's program does not configure."""


@dataclass(frozen=True)
class Route:
    """Where a crisis goes: the route's name and the recipient it reaches (None: the on-call supervisor only)."""

    route: str
    contact: str | None


def route_for(program: Program, asked: str | None = None) -> Route:
    """The facility's first crisis route, or the one asked for among those it configures."""
    routes = [Route(r["route"], r.get("contact")) for r in program.crisis_routes]
    if asked is None:
        return routes[0]
    for route in routes:
        if route.route == asked:
            return route
    raise UnknownRoute(f"route: not a crisis route of {program.facility} ({', '.join(r.route for r in routes)})")
