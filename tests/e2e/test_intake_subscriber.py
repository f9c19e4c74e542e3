"""Billing reads a subscriber from the running intake: the name is served, and never written to any log."""
from __future__ import annotations

import uuid

import httpx
import pytest

from services.intake.domain.hl7 import parse
from tests.e2e.test_intake_mllp import send
from tests.unit.intake.messages import adt

pytestmark = pytest.mark.e2e


def test_billing_gets_the_subscriber_and_no_log_carries_it(stack):
    facility = f"H{uuid.uuid4().hex[:6].upper()}"
    visit_number = "V" + uuid.uuid4().hex[:8]
    family, given = "QXZSUBSCRIBER" + uuid.uuid4().hex[:6].upper(), "QXZGIVEN"
    message = adt("A04", facility=facility, visit_number=visit_number)
    pid = message.split(b"\r")[2]
    frame = message.replace(pid, f"PID|1||M-{visit_number}||{family}^{given}||19770707|F|||8 Zq St^^Zqville^NJ^08999"
                                 .encode())
    assert parse(send(stack, frame)).get("MSA", 1) == "AA"

    url = f"{stack.urls['intake']}/visits/{facility}/{visit_number}/subscriber"
    assert httpx.get(url, headers=stack.headers("supervisor")).status_code == 403
    got = httpx.get(url, headers=stack.headers("billing"))
    assert got.status_code == 200
    assert (got.json()["last_name"], got.json()["first_name"], got.json()["birth_date"]) == (
        family, given, "1977-07-07")

    # the read itself is logged, with safe keys only
    assert len(stack.log_lines("subscriber_disclosed", facility=facility, role="billing")) == 1
    logs = stack.logs()
    for value in (family, given, "1977-07-07", "19770707", "8 Zq St", "Zqville", visit_number):
        assert value not in logs
