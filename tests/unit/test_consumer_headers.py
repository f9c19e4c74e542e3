"""A record whose `ce_type` header names an event this consumer does not handle is skipped without being parsed."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from services.runtime.consumer import EventConsumer
from services.runtime.envelope import new_event, transport_headers
from tests.support.events import ItemAdded

pytestmark = pytest.mark.unit


def consumer() -> EventConsumer:
    async def on_item(event, uow):
        raise AssertionError("not called by _readable")
    return EventConsumer(pool=None, producer=None, bootstrap_servers="unused", service="test", group="headers",
                         topics=["t"], handlers={ItemAdded: on_item})


def record(value: bytes, event_type: str | None):
    headers = tuple(transport_headers("id-1", event_type, None)) if event_type else ()
    return SimpleNamespace(topic="t", partition=0, offset=1, key=b"k", headers=headers, value=value)


def ignored(name: str) -> float:
    return REGISTRY.get_sample_value("peerbridge_events_handled_total",
                                     {"consumer_group": "headers", "event_type": name, "outcome": "ignored"}) or 0.0


def test_an_event_of_another_kind_is_skipped_by_its_header_unparsed():
    before = ignored("ItemRemoved")
    # Not even JSON: parsing it would have dead-lettered it; the header says it is not ours.
    assert asyncio.run(consumer()._readable(record(b"\xff not json", "org.peerbridge.test.ItemRemoved"))) is None
    assert ignored("ItemRemoved") == before + 1


def test_a_handled_event_and_one_without_headers_are_parsed():
    event = new_event("test", "ItemAdded", {"item": 1})
    for headers in ("org.peerbridge.test.ItemAdded", None):
        envelope, (model, _) = asyncio.run(consumer()._readable(record(event.to_bytes(), headers)))
        assert envelope.id == event.id and model is ItemAdded
