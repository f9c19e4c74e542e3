"""Logs never carry keys outside the allow-list, whatever a caller passes."""
from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from services.runtime.logs import SAFE_KEYS, configure_logging

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def restore_logging():
    """These tests point logging at a buffer; later tests get the normal stderr configuration back."""
    yield
    configure_logging("test")


def test_unknown_keys_are_dropped_and_counted():
    out = io.StringIO()
    configure_logging("test", stream=out)
    structlog.get_logger().info("visit_seen", facility="NJGEN", patient_name="DOE^JANE", dob="19800101")
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert line["event"] == "visit_seen" and line["facility"] == "NJGEN" and line["service"] == "test"
    assert "patient_name" not in line and "dob" not in line and line["dropped_keys"] == 2
    assert "DOE" not in out.getvalue()


def test_library_tracebacks_are_reduced_to_the_exception_class():
    out = io.StringIO()
    configure_logging("test", stream=out)
    try:
        raise ValueError("duplicate key (mrn)=(MRN-12345)")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    text = out.getvalue()
    assert "ValueError" in text and "MRN-12345" not in text


def test_a_library_record_is_one_allow_listed_json_line():
    out = io.StringIO()
    configure_logging("test", stream=out)
    logging.getLogger("aiokafka.conn").warning("Unable connect to node with id %s: %s", 1, "DOE^JANE 19800101",
                                               extra={"patient_name": "DOE^JANE"})
    [text] = out.getvalue().splitlines()
    line = json.loads(text)
    assert line["event"] == "Unable connect to node with id %s: %s" and line["logger"] == "aiokafka.conn"
    assert line["level"] == "warning" and line["service"] == "test" and "timestamp" in line
    assert set(line) <= SAFE_KEYS | {"dropped_keys"} and "DOE" not in text and "19800101" not in text


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_identical_connection_errors_is_one_line_per_interval_with_the_count_suppressed():
    out, clock = io.StringIO(), FakeClock()
    configure_logging("test", stream=out, repeat_seconds=10, clock=clock)
    broker = logging.getLogger("aiokafka.client")
    for second in range(30):  # 30 s of outage, 50 identical errors a second
        clock.now = 1000.0 + second
        for _ in range(50):
            broker.error("Unable to update metadata from [%s]", 1)
    logging.getLogger("asyncpg.pool").warning("another message")
    lines = [json.loads(t) for t in out.getvalue().splitlines()]
    floods = [line for line in lines if line["logger"] == "aiokafka.client"]
    assert [line.get("suppressed", 0) for line in floods] == [0, 499, 499]
    assert lines[-1]["event"] == "another message"  # other messages are not held back by the flood
