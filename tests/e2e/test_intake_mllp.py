"""ADT over a real MLLP socket to the running intake: AA echoing MSH-10, the visit indicated, pairing offers it."""
from __future__ import annotations

import socket
import uuid

import httpx
import pytest

from services.intake.domain.hl7 import parse
from tests.e2e.test_walking_skeleton import add_specialist, poll
from tests.unit.intake.messages import SECRET_BIRTH, SECRET_MRN, SECRET_NAME, adt

pytestmark = pytest.mark.e2e
AA_ADT_A04 = {"ack_code": "AA", "channel": "mllp", "message_type": "ADT^A04"}


def send(stack, frame: bytes) -> bytes:
    """One MLLP exchange with the running intake service."""
    with socket.create_connection(("127.0.0.1", int(stack.env["INTAKE_MLLP_PORT"])), timeout=15) as sock:
        sock.sendall(b"\x0b" + frame + b"\x1c\x0d")
        data = b""
        while not data.endswith(b"\x1c\x0d"):
            chunk = sock.recv(65536)
            assert chunk, "connection closed without an ACK"
            data += chunk
    assert data.startswith(b"\x0b")
    return data[1:-2]


def test_an_overdose_registration_over_mllp_reaches_pairing(stack):
    facility = f"H{uuid.uuid4().hex[:6].upper()}"
    visit_number = "V" + uuid.uuid4().hex[:8]
    specialist_id = add_specialist(stack, facility)
    control_id = "E2E" + uuid.uuid4().hex[:10]
    counted = stack.counter("intake", "peerbridge_intake_messages_total", **AA_ADT_A04)
    frame = adt("A04", facility=facility, visit_number=visit_number, control_id=control_id,
                diagnoses=("T40.1X1A",), complaint="found down, narcan given")
    ack = parse(send(stack, frame))
    assert (ack.get("MSA", 1), ack.get("MSA", 2)) == ("AA", control_id)
    assert (ack.get("MSH", 5), ack.get("MSH", 6)) == ("EPICADT", facility)

    visit = httpx.get(f"{stack.urls['intake']}/visits/{facility}/{visit_number}", headers=stack.headers("supervisor"))
    assert visit.status_code == 200 and visit.json()["peer_indicated"] is True
    assert {i["code"] for i in visit.json()["indications"]} >= {"T401X1A", "narcan"}

    offers = poll(lambda: httpx.get(f"{stack.urls['pairing']}/assignments", headers=stack.headers("supervisor"),
                                    params={"facility": facility, "visit_number": visit_number}).json())
    assert [a["specialist_id"] for a in offers] == [specialist_id]

    # the sender retries: same ACK, nothing processed twice
    again = parse(send(stack, frame))
    assert (again.get("MSA", 1), again.get("MSA", 2)) == ("AA", control_id)
    mine = httpx.get(f"{stack.urls['intake']}/messages", params={"control_id": control_id},
                     headers=stack.headers("admin")).json()
    assert len(mine) == 1 and mine[0]["status"] == "accepted" and mine[0]["duplicates"] == 1 and "raw" not in mine[0]
    # the message and its resend, each answered AA
    assert stack.counter("intake", "peerbridge_intake_messages_total", **AA_ADT_A04) - counted == 2


def test_a_clinician_request_indicates_a_visit_without_a_qualifying_diagnosis(stack):
    facility, visit_number = f"H{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    ack = parse(send(stack, adt("A04", facility=facility, visit_number=visit_number, diagnoses=("S52.501A",))))
    assert ack.get("MSA", 1) == "AA"
    url = f"{stack.urls['intake']}/visits/{facility}/{visit_number}"
    assert httpx.get(url, headers=stack.headers("admin")).json()["peer_indicated"] is False
    r = httpx.post(f"{url}/peer-request", headers=stack.headers("ehr"))
    assert r.status_code == 200 and r.json()["peer_indicated"] is True
    assert [i["kind"] for i in httpx.get(url, headers=stack.headers("admin")).json()["indications"]] == [
        "clinician-request"]
    assert httpx.post(f"{url}/peer-request", headers=stack.headers("peer")).status_code == 403
    missing = httpx.post(f"{stack.urls['intake']}/visits/{facility}/NOPE/peer-request", headers=stack.headers("ehr"))
    assert missing.status_code == 404


def test_a_malformed_frame_is_rejected_and_the_connection_stays_usable(stack):
    with socket.create_connection(("127.0.0.1", int(stack.env["INTAKE_MLLP_PORT"])), timeout=15) as sock:
        for frame, code in ((b"MSH|0000||||||||||0", "AR"), (adt("A28"), "AA")):
            sock.sendall(b"\x0b" + frame + b"\x1c\x0d")
            data = b""
            while not data.endswith(b"\x1c\x0d"):
                data += sock.recv(65536)
            assert parse(data[1:-2]).get("MSA", 1) == code


def test_no_patient_name_identifier_or_birth_date_reaches_the_logs(stack):
    facility = f"H{uuid.uuid4().hex[:6].upper()}"
    for trigger in ("A04", "A08", "A03"):
        send(stack, adt(trigger, facility=facility, visit_number="VLOG1", complaint="overdose"))
    send(stack, adt("A04", facility=facility, visit_number=None))
    send(stack, SECRET_NAME.encode() + b"|" + SECRET_MRN.encode())
    assert len(stack.log_lines("hl7_received", facility=facility)) == 4  # this test's messages were logged
    logs = stack.logs()
    for secret in (SECRET_NAME, SECRET_MRN, SECRET_BIRTH, "VLOG1", "Elm St", "555-0100"):
        assert secret not in logs
