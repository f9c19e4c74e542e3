"""The event catalogue hangs together: schemas, topics, handlers and the AsyncAPI document agree."""
from __future__ import annotations

import importlib

import pytest
import yaml

from services.runtime import asyncapi, contracts, topics
from tests.support.stack import ROOT

pytestmark = pytest.mark.unit


def test_every_event_schema_belongs_to_exactly_one_topic():
    on_topics = [e for events in topics.EVENTS.values() for e in events]
    assert sorted(on_topics) == contracts.event_names()


@pytest.mark.parametrize("service", asyncapi.SERVICES)
def test_services_handle_only_events_that_exist(service):
    runtime = importlib.import_module(f"services.{service}.app").create_app().state.runtime
    published_on = {e: t for t, events in topics.EVENTS.items() for e in events}
    for event in runtime.handlers:
        assert event in published_on, f"{service} handles unknown event {event}"
        assert published_on[event] in runtime.subscriptions, f"{service} handles {event} but does not subscribe"


def test_committed_asyncapi_document_is_current():
    committed = yaml.safe_load((ROOT / "schemas" / "asyncapi.yaml").read_text())
    assert committed == asyncapi.build(), "run: .venv/bin/peerbridge asyncapi > schemas/asyncapi.yaml"
