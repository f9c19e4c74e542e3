"""The roster's profile columns kept between reads: a batch of visits reads only the load, last pages and shifts."""
from __future__ import annotations

from typing import Sequence

from .domain.roster import Roster, RosterEntry
from .domain.shifts import Window
from .ports import DispatchStore, Row


class RosterCache:
    """Profiles (the specialists' stored records) by version, and the roster columns built from the last set read.

    Coherent by construction: every read names each active specialist's profile_version (set by a trigger on any
    change of the record), and a specialist whose version differs from the one held is read again in the same
    transaction. Only the live state comes from each read: load, last page and shifts."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, RosterEntry]] = {}
        self._key: tuple = ()
        self._roster: Roster | None = None

    async def roster(self, store: DispatchStore, people: Sequence[Row], windows: dict[str, list[Window]]) -> Roster:
        """The roster of these people (a roster read's rows, in order) with their live state."""
        key = tuple((p["id"], p["profile_version"]) for p in people)
        roster = self._roster if key == self._key else None
        if roster is None:
            people, roster = await self._rebuild(store, people)
        return roster.with_live_state([p["load"] for p in people], [p["last_paged_at"] for p in people],
                                      [windows.get(p["id"], []) for p in people])

    async def _rebuild(self, store: DispatchStore, people: Sequence[Row]) -> tuple[Sequence[Row], Roster]:
        # Taken before reading (other coroutines of this process may rebuild meanwhile), each entry with its version.
        held = {p["id"]: self._entries[p["id"]] for p in people
                if p["id"] in self._entries and self._entries[p["id"]][0] == p["profile_version"]}
        stale = [p["id"] for p in people if p["id"] not in held]
        for row in await store.profiles(stale) if stale else []:
            held[row["id"]] = (row["profile_version"], RosterEntry.from_record(row["id"], row["data"]))
        # A specialist deleted between the two reads is not on the roster; one no longer active is forgotten.
        people = [p for p in people if p["id"] in held]
        roster = Roster([held[p["id"]][1] for p in people])
        # Keyed by the versions the roster read named: a profile read newer than that is read again next time.
        self._entries, self._key, self._roster = held, tuple((p["id"], p["profile_version"]) for p in people), roster
        return people, roster
