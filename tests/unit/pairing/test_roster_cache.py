"""The roster's profile columns are shared between reads and never written; each read's live state is its own."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from services.pairing.domain.roster import Roster
from services.pairing.roster_cache import RosterCache
from tests.unit.pairing.builders import NOW, entry, peer
from tests.unit.pairing.fakes import FakeStore

pytestmark = pytest.mark.unit


def test_a_copy_with_live_state_shares_the_profiles_and_keeps_its_own_load():
    roster = Roster([entry("a", load=1), entry("b", load=2)])
    copy = roster.with_live_state([5, 0], [NOW, None], [[], []])
    assert copy.speaks is roster.speaks and copy.cap is roster.cap
    copy.paged("b", NOW)
    assert list(copy.load) == [5, 1] and list(roster.load) == [1, 2]
    assert list(copy.on_shift("F1", NOW)) == [False, False] and list(roster.on_shift("F1", NOW)) == [True, True]


def test_a_profile_column_cannot_be_written_by_a_matching_step():
    roster = Roster([entry("a"), entry("b", languages=["pl"])])
    with pytest.raises(ValueError):
        roster.mask(roster.speaks, "pl")[0] = True
    with pytest.raises(ValueError):
        roster.cap[0] = 99


async def test_the_cache_reads_a_profile_again_only_when_its_version_changes():
    store, cache = FakeStore(), RosterCache()
    a = store.add_specialist(peer("a"))
    b = store.add_specialist(peer("b", languages=["en"]))
    reads = []
    real = store.profiles

    async def counted(ids):
        reads.append(sorted(ids))
        return await real(ids)

    store.profiles = counted

    async def roster():
        people, _ = await store.roster_state(NOW)
        return await cache.roster(store, people, {})

    first = await roster()
    store.specialists[b]["last_paged_at"] = NOW - timedelta(minutes=5)
    second = await roster()
    assert reads == [sorted([a, b])] and second.last_paged[1] == (NOW - timedelta(minutes=5)).timestamp()
    assert not second.mask(second.speaks, "es")[1]
    store.specialists[b]["data"] = {**store.specialists[b]["data"], "languages": ["en", "es"]}
    third = await roster()
    assert reads[1:] == [[b]] and list(third.mask(third.speaks, "es")) == [True, True]
    assert np.array_equal(first.cap, third.cap)
