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


def test_only_a_served_process_freezes_an_apps_start_up(monkeypatch):
    import uvicorn

    from services.pairing.app import create_app
    from services.runtime import logs, service

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    monkeypatch.setattr(logs, "configure_logging", lambda *a, **k: None)  # the test process's logging stays as it is
    in_a_test = create_app()
    assert in_a_test.state.runtime.freeze_heap is False  # started inside pytest: its objects stay collectable
    app = create_app()
    service.run_service("pairing", app, app.state.runtime.settings, 0)
    assert served == [app] and app.state.runtime.freeze_heap is True
