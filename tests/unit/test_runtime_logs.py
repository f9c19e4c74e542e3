"""Logs never carry keys outside the allow-list, whatever a caller passes."""
from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from services.runtime.logs import configure_logging

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
