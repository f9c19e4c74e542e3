"""Start-up's objects are frozen: a full collection no longer walks them."""
from __future__ import annotations

import gc

import pytest

from services.runtime.heap import freeze_start_up

pytestmark = pytest.mark.unit


def walked(obj) -> bool:
    """Whether the collector's generations (what a full collection walks) hold this object."""
    return any(o is obj for o in gc.get_objects())


def test_objects_alive_at_start_up_are_out_of_the_collectors_reach():
    kept = [[n] for n in range(1000)]  # lists are tracked by the collector
    assert walked(kept[0])
    try:
        freeze_start_up()
        assert gc.get_freeze_count() >= len(kept)
        assert not walked(kept[0]) and not walked(kept)
        made_later = [0]
        assert walked(made_later)
    finally:
        gc.unfreeze()
