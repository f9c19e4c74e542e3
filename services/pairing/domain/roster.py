"""The roster as column arrays (numpy), built once per matching so that ranking 10,000 peers stays in milliseconds."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Iterable

import numpy as np

from .shifts import Window

TELEHEALTH_FACILITY = "telehealth"
# CDC Race & Ethnicity codes that everyone who shares them does not thereby share a background: Not Hispanic or
# Latino (most patients and peers) and Other Race (a remainder, not a group).
NOT_A_SHARED_BACKGROUND = frozenset({"2186-5", "2131-1"})


def shared_culture(codes: Iterable[str]) -> frozenset[str]:
    """The race and ethnicity codes (CDC Race & Ethnicity) that count as a background two people share."""
    return frozenset(codes) - NOT_A_SHARED_BACKGROUND


def primary_language(tag: str | None) -> str | None:
    """The primary subtag of a BCP-47 tag, lower case ('es-MX' -> 'es'); None for unknown."""
    if not tag:
        return None
    primary = tag.replace("_", "-").split("-")[0].lower()
    return None if primary in ("", "und", "mul", "zxx") else primary


@dataclass
class RosterEntry:
    """One specialist as matching sees them: the roster record plus live state (load, last page, shifts)."""

    id: str
    status: str = "active"
    gender: str | None = None
    birth_year: int | None = None
    languages: list[str] = field(default_factory=lambda: ["en"])
    certifications: list[dict] = field(default_factory=list)
    recovery_since: date | None = None
    lived_experience: list[str] = field(default_factory=list)
    pathways: list[str] = field(default_factory=list)
    race: list[str] = field(default_factory=list)
    ethnicity: list[str] = field(default_factory=list)
    facilities: list[str] = field(default_factory=list)
    telehealth: bool = False
    caseload_cap: int = 8
    load: int = 0
    last_paged_at: datetime | None = None
    shifts: list[Window] = field(default_factory=list)

    @classmethod
    def from_record(cls, specialist_id: str, data: dict, **state) -> "RosterEntry":
        """From the roster's stored JSON (dates as ISO strings) and the live state."""
        since = data.get("recovery_since")
        return cls(id=specialist_id, status=data.get("status", "active"), gender=data.get("gender"),
                   birth_year=data.get("birth_year"), languages=data.get("languages") or [],
                   certifications=data.get("certifications") or [],
                   recovery_since=date.fromisoformat(since) if isinstance(since, str) else since,
                   lived_experience=data.get("lived_experience") or [], pathways=data.get("pathways") or [],
                   race=data.get("race") or [], ethnicity=data.get("ethnicity") or [],
                   facilities=data.get("facilities") or [], telehealth=bool(data.get("telehealth")),
                   caseload_cap=int(data.get("caseload_cap", 8)), **state)


def _masks(n: int, values: Iterable[tuple[int, Iterable[str]]], norm=lambda v: v) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for i, items in values:
        for item in items:
            key = norm(item)
            if key is None:
                continue
            if key not in out:
                out[key] = np.zeros(n, dtype=bool)
            out[key][i] = True
    return out


PROFILE_ARRAYS = ("active", "telehealth", "cap", "recovery_since", "birth_year")
PROFILE_TABLES = ("gender", "speaks", "first_language", "lived", "pathways", "culture", "serves", "cert_expiry",
                  "cert_state_expiry")
PROFILE_COLUMNS = frozenset(("n", "ids", "index", *PROFILE_ARRAYS, *PROFILE_TABLES))


class Roster:
    """Column arrays over the specialists; every per-visit test is a vector operation."""

    def __init__(self, entries: list[RosterEntry]):
        self._profiles(entries)
        self._live([e.load for e in entries], [e.last_paged_at for e in entries], [e.shifts for e in entries])

    def with_live_state(self, load: list[int], last_paged_at: list[datetime | None],
                        shifts: list[list[Window]]) -> "Roster":
        """The same specialists (same order) with a fresh read's load, last page and shifts; the profile columns are
        shared, not rebuilt (they are read-only)."""
        out = object.__new__(Roster)
        out.__dict__.update({k: v for k, v in self.__dict__.items() if k in PROFILE_COLUMNS})
        out._live(load, last_paged_at, shifts)
        return out

    def _profiles(self, entries: list[RosterEntry]) -> None:
        n = len(entries)
        self.n = n
        self.ids = [e.id for e in entries]
        self.index = {e.id: i for i, e in enumerate(entries)}
        self.active = np.array([e.status == "active" for e in entries], dtype=bool)
        self.telehealth = np.array([e.telehealth for e in entries], dtype=bool)
        self.cap = np.array([e.caseload_cap for e in entries], dtype=np.int64)
        never = np.iinfo(np.int64).max
        self.recovery_since = np.array([e.recovery_since.toordinal() if e.recovery_since else never
                                        for e in entries], dtype=np.int64)
        self.birth_year = np.array([e.birth_year if e.birth_year else np.nan for e in entries], dtype=float)
        enum = list(enumerate(entries))
        self.gender = _masks(n, ((i, [e.gender] if e.gender else []) for i, e in enum))
        self.speaks = _masks(n, ((i, e.languages) for i, e in enum), primary_language)
        self.first_language = _masks(n, ((i, e.languages[:1]) for i, e in enum), primary_language)
        self.lived = _masks(n, ((i, e.lived_experience) for i, e in enum))
        self.pathways = _masks(n, ((i, e.pathways) for i, e in enum))
        self.culture = _masks(n, ((i, shared_culture(e.race + e.ethnicity)) for i, e in enum))
        self.serves = _masks(n, ((i, e.facilities) for i, e in enum))
        # Latest expiry per certification kind, as date ordinals (0: none held).
        self.cert_expiry: dict[str, np.ndarray] = {}
        # The same per kind and issuing state, for payers that accept only their own state's credential.
        self.cert_state_expiry: dict[tuple[str, str | None], np.ndarray] = {}
        for i, e in enum:
            for cert in e.certifications:
                expires = cert["expires_on"]
                ordinal = (date.fromisoformat(expires) if isinstance(expires, str) else expires).toordinal()
                column = self.cert_expiry.setdefault(cert["kind"], np.zeros(n, dtype=np.int64))
                column[i] = max(column[i], ordinal)
                by_state = self.cert_state_expiry.setdefault((cert["kind"], cert.get("state")),
                                                             np.zeros(n, dtype=np.int64))
                by_state[i] = max(by_state[i], ordinal)
        # Kept between reads of the roster and shared by their copies (with_live_state): nothing may write to them.
        for name in PROFILE_ARRAYS:
            getattr(self, name).flags.writeable = False
        for name in PROFILE_TABLES:
            for column in getattr(self, name).values():
                column.flags.writeable = False

    def _live(self, load: list[int], last_paged_at: list[datetime | None], shifts: list[list[Window]]) -> None:
        self.load = np.array(load, dtype=np.int64)
        self.last_paged = np.array([at.timestamp() if at else -np.inf for at in last_paged_at], dtype=float)
        # Shift windows sorted by facility, so a visit only scans its own facility's windows.
        windows = sorted(((w.facility, i, w) for i, owned in enumerate(shifts) for w in owned), key=lambda t: t[0])
        self.shift_owner = np.array([i for _, i, _ in windows], dtype=np.int64)
        self.shift_start = np.array([w.starts_at.timestamp() for _, _, w in windows], dtype=float)
        self.shift_end = np.array([w.ends_at.timestamp() for _, _, w in windows], dtype=float)
        self.shift_span: dict[str, tuple[int, int]] = {}
        for k, (facility, _, _) in enumerate(windows):
            first, _ = self.shift_span.get(facility, (k, k))
            self.shift_span[facility] = (first, k + 1)

    def subset(self, keep: np.ndarray) -> "Roster":
        """The roster restricted to the specialists at indices `keep` (in that order)."""
        out = Roster([])
        out._memo = {}
        out.n = len(keep)
        out.ids = [self.ids[i] for i in keep]
        out.index = {sid: j for j, sid in enumerate(out.ids)}
        for name in (*PROFILE_ARRAYS, "load", "last_paged"):
            setattr(out, name, getattr(self, name)[keep])
        for name in PROFILE_TABLES:
            setattr(out, name, {k: v[keep] for k, v in getattr(self, name).items()})
        remap = np.full(self.n, -1, dtype=np.int64)
        remap[keep] = np.arange(len(keep))
        inside = remap[self.shift_owner] >= 0
        out.shift_owner = remap[self.shift_owner][inside]
        out.shift_start, out.shift_end = self.shift_start[inside], self.shift_end[inside]
        positions = np.cumsum(inside)
        out.shift_span = {f: (int(positions[a - 1]) if a else 0, int(positions[b - 1]) if b else 0)
                          for f, (a, b) in self.shift_span.items()}
        return out

    def paged(self, specialist_id: str, at: datetime) -> None:
        """Count an offer just made to this specialist (one more pending, paged at `at`), as a fresh read would."""
        i = self.index.get(specialist_id)
        if i is None:
            return
        self.load[i] += 1
        self.last_paged[i] = at.timestamp()
        memo = self.__dict__.get("_memo", {})
        for key in [k for k in memo if k == "load" or (isinstance(k, tuple) and k[0] == "fairness")]:
            del memo[key]

    def memo(self, key, compute):
        """A per-visit-independent column, computed once per roster (re-matching evaluates many visits)."""
        cache = self.__dict__.setdefault("_memo", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    def mask(self, table: dict[str, np.ndarray], key: str | None) -> np.ndarray:
        """The column of `table` for key, all False when nobody has it."""
        column = table.get(key) if key is not None else None
        return column if column is not None else np.zeros(self.n, dtype=bool)

    def any_of(self, table: dict[str, np.ndarray], keys: Iterable[str]) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for key in keys:
            out |= self.mask(table, key)
        return out

    def on_shift(self, facility: str | None, at: datetime) -> np.ndarray:
        """Who has a shift covering `at` (at `facility`, or anywhere when facility is None)."""
        t = at.timestamp()
        first, last = (0, len(self.shift_owner)) if facility is None else self.shift_span.get(facility, (0, 0))
        now = (self.shift_start[first:last] <= t) & (t < self.shift_end[first:last])
        out = np.zeros(self.n, dtype=bool)
        out[self.shift_owner[first:last][now]] = True
        return out
