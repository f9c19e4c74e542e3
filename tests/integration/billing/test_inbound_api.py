"""What comes back, on real PostgreSQL over HTTP: a 999 onto the batch, a 277CA per claim, an 835 posted, each
file once however often it is sent, bad files refused whole; the drop folder."""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace

import pytest

from services.billing.settings import BillingSettings
from services.billing.watch import DropFolder
from tests.integration.billing.conftest import SECRET, approved_claim
from tests.integration.billing.test_claims_db import intake
from tests.support.x12_replies import Ack, Paid, write_277ca, write_835, write_999
from tests.unit.billing.test_x12 import INTAKE_ANSWER

pytestmark = pytest.mark.integration
EDI = {"Content-Type": "application/edi-x12"}


async def exported(app, client) -> tuple[dict, dict]:
    """An approved claim of the builders' visit put in a batch: (claim, batch)."""
    claim_id = await approved_claim(app, client)
    app.state.billing = replace(app.state.billing, intake=BillingSettings(jwt_secret=SECRET).intake_client(
        intake({"/visits/NEWARK/V1/subscriber": (200, INTAKE_ANSWER)})))
    batch = (await client.post("/batches", json={"payer": "NJ-MEDICAID"})).json()
    return (await client.get(f"/claims/{claim_id}")).json(), (await client.get(f"/batches/{batch['id']}")).json()


async def upload(client, text: str, status: int = 201) -> dict:
    r = await client.post("/x12/inbound", content=text.encode(), headers=EDI)
    assert r.status_code == status, r.text
    return r.json()


async def test_999_277ca_and_835_move_the_batch_and_the_claim_and_a_file_sent_twice_counts_once(api):
    app, client = api
    claim, batch = await exported(app, client)
    assert batch["status"] == "exported"
    gs06 = str(int(batch["interchange_control_number"]))
    ack = await upload(client, write_999(gs06))
    assert ack["kind"] == "999" and ack["summary"]["batches"][0]["status"] == "accepted"
    assert [b["status"] for b in (await client.get("/batches")).json()] == ["accepted"]

    number = claim["claim_number"]
    await upload(client, write_277ca([Ack(number, claim["charge"], True, "2026331000123")]))
    after = (await client.get(f"/claims/{claim['id']}")).json()
    assert (after["status"], after["payer_claim_number"]) == ("accepted", "2026331000123")

    remit = write_835([Paid(number, "60", "45", "2026331000123", adjustments=[("CO", "45", "15")])])
    first = await upload(client, remit)
    again = await upload(client, remit, status=200)
    assert again["duplicate"] and again["id"] == first["id"] and again["summary"] == first["summary"]
    after = (await client.get(f"/claims/{claim['id']}")).json()
    assert (after["status"], after["paid_amount"]) == ("paid", "45.00")
    [remittance] = (await client.get("/remittances")).json()
    assert (remittance["payment_amount"], remittance["claims_paid"], remittance["reconciled"]) == ("45.00", "45.00",
                                                                                                    True)
    detail = (await client.get(f"/remittances/{remittance['id']}")).json()
    assert detail["claims"][0]["claim_id"] == claim["id"]
    assert detail["claims"][0]["reasons"][0].startswith("CO-45: the charge exceeds the fee schedule")
    raw = await client.get(f"/x12/inbound/{first['id']}/raw")
    assert raw.content == remit.encode()
    assert [f["kind"] for f in (await client.get("/x12/inbound")).json()] == ["835", "277CA", "999"]
    response = await client.get(f"/claims/{claim['id']}/claim-response")
    assert response.status_code == 200 and response.json()["resourceType"] == "ClaimResponse"
    assert response.json()["payment"]["amount"]["value"] == 45.0
    [listed] = (await client.get("/batches")).json()
    assert (listed["status"], listed["claims_by_status"]) == ("accepted", {"paid": 1})
    csv = await client.get("/reports/claims.csv", params={"month": after["service_date"][:7]})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    header, row = csv.text.splitlines()
    assert header.startswith("claim_number,status,frequency,payer")
    assert row.startswith(f"{number},paid,1,NJ-MEDICAID,NJMCD,NEWARK,V1,{after['service_date']},3,60.00,45.00,"
                          "2026331000123,,")
    assert "M123" not in csv.text  # no member ids
    assert (await client.get("/reports/claims.csv", params={"month": "2026-13"})).status_code == 422


async def test_a_denial_enters_the_work_queue_in_words_and_a_rejected_file_rejects_its_claims(api):
    app, client = api
    claim, batch = await exported(app, client)
    await upload(client, write_999(str(int(batch["interchange_control_number"])), code="R",
                                   errors=[("CLM", 22, "8")]))
    assert (await client.get(f"/batches/{batch['id']}")).json()["status"] == "rejected"
    [queued] = (await client.get("/denials")).json()
    assert (queued["claim_id"], queued["status"]) == (claim["id"], "rejected") and "approve" in queued["action"]
    # fixed and approved again, it leaves the queue and goes out in the next batch
    assert (await client.post(f"/claims/{claim['id']}/approve")).json()["status"] == "approved"
    assert (await client.post("/batches", json={"payer": "NJ-MEDICAID"})).status_code == 201
    assert (await client.get("/denials")).json() == []
    await upload(client, write_835([Paid(claim["claim_number"], "60", "0", "2026331000124", status="4",
                                         adjustments=[("CO", "16", "60")], remarks=["M76"])]))
    [queued] = (await client.get("/denials")).json()
    assert queued["status"] == "denied" and queued["payer_claim_number"] == "2026331000124"
    assert queued["reasons"] == ["CO-16: the claim lacks information or has submission/billing errors (contractual"
                                 " obligation (the provider writes it off; the patient is not billed))",
                                 "M76: missing, incomplete or invalid diagnosis or condition"]
    assert "replace" in queued["action"]


async def test_a_bad_file_is_refused_whole_naming_the_segment_and_nothing_of_it_is_applied(api):
    app, client = api
    claim, batch = await exported(app, client)
    unbalanced = write_835([Paid(claim["claim_number"], "60", "45", "X1", adjustments=[("CO", "45", "10")])])
    r = await client.post("/x12/inbound", content=unbalanced.encode(), headers=EDI)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["problems"][0]["segment_id"] == "SVC" and "SVC02" in r.json()["problems"][0]["reason"]
    r = await client.post("/x12/inbound", content=write_999("999999").encode(), headers=EDI)
    assert r.status_code == 422 and "AK102" in r.json()["problems"][0]["reason"]
    assert (await client.post("/x12/inbound", content=b"", headers=EDI)).status_code == 422
    assert (await client.get("/x12/inbound")).json() == []
    assert (await client.get(f"/claims/{claim['id']}")).json()["status"] == "exported"
    assert (await client.get(f"/claims/{claim['id']}/claim-response")).status_code == 404
    # both refused files are kept, bytes and reasons, for a biller to look at
    kept = (await client.get("/x12/refusals")).json()
    assert [k["problems"][0]["segment_id"] for k in kept] == ["AK1", "SVC"]
    assert (await client.get(f"/x12/refusals/{kept[1]['id']}/raw")).text == unbalanced


async def test_a_refused_file_is_kept_and_applies_on_retry_once_its_cause_is_fixed(api):
    app, client = api
    claim, batch = await exported(app, client)
    # the clearinghouse answers the NEXT batch before we know of it (its 999 went to the wrong folder first)
    early = write_999(str(int(batch["interchange_control_number"]) + 1))
    r = await client.post("/x12/inbound", content=early.encode(),
                          headers={**EDI, "Content-Disposition": 'attachment; filename="early.999"'})
    assert r.status_code == 422
    refusal_id = r.json()["refusal_id"]
    again = await client.post("/x12/inbound", content=early.encode(), headers=EDI)
    assert again.json()["refusal_id"] == refusal_id  # the same bytes are one refusal with two attempts
    retried = await client.post(f"/x12/refusals/{refusal_id}/retry")
    assert retried.status_code == 422 and retried.json()["refusal_id"] == refusal_id
    [pending] = (await client.get("/x12/refusals")).json()
    assert (pending["id"], pending["attempts"], pending["source"], pending["filename"]) == (refusal_id, 3, "api",
                                                                                          "early.999")
    # the next batch is exported: the kept 999 now applies, once
    await approved_claim(app, client, visit_number="V2")
    app.state.billing = replace(app.state.billing, intake=BillingSettings(jwt_secret=SECRET).intake_client(
        intake({"/visits/NEWARK/V2/subscriber": (200, INTAKE_ANSWER)})))
    second = (await client.post("/batches", json={"payer": "NJ-MEDICAID"})).json()
    applied = await client.post(f"/x12/refusals/{refusal_id}/retry")
    assert applied.status_code == 201 and applied.json()["kind"] == "999"
    assert (await client.get(f"/batches/{second['id']}")).json()["status"] == "accepted"
    assert (await client.post(f"/x12/refusals/{refusal_id}/retry")).status_code == 200
    assert (await client.get("/x12/refusals")).json() == []
    [done] = (await client.get("/x12/refusals", params={"pending": "false"})).json()
    assert done["applied_file_id"] == applied.json()["id"]
    [stored] = [f for f in (await client.get("/x12/inbound")).json() if f["id"] == done["applied_file_id"]]
    assert stored["filename"] == "early.999"


async def test_the_drop_folder_applies_files_and_moves_them_to_processed_or_failed(api, tmp_path):
    app, client = api
    claim, batch = await exported(app, client)
    folder = DropFolder(tmp_path, app.state.runtime.unit_of_work, settle_seconds=0)
    (tmp_path / "ack.999").write_text(write_999(str(int(batch["interchange_control_number"]))))
    (tmp_path / "again.999").write_text(write_999(str(int(batch["interchange_control_number"]))))
    (tmp_path / "broken.835").write_text("ISA*garbage")
    (tmp_path / ".partial").write_text("still uploading")
    assert await folder.process_ready() == 3
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == ["ack.999", "again.999"]
    assert sorted(p.name for p in (tmp_path / "failed").iterdir()) == ["broken.835", "broken.835.problems.txt"]
    assert "ISA" in (tmp_path / "failed" / "broken.835.problems.txt").read_text()
    [kept] = (await client.get("/x12/refusals")).json()
    assert (kept["source"], kept["filename"]) == ("directory", "broken.835")
    assert (tmp_path / ".partial").exists()
    [stored] = (await client.get("/x12/inbound")).json()
    assert (stored["source"], stored["filename"]) == ("directory", "ack.999")
    assert (await client.get(f"/batches/{batch['id']}")).json()["status"] == "accepted"
    # a file still being written (changed within the settle time) waits for the next round
    waiting = DropFolder(tmp_path, app.state.runtime.unit_of_work, settle_seconds=60)
    (tmp_path / "new.277").write_text("ISA")
    os.utime(tmp_path / "new.277", (time.time(), time.time()))
    assert await waiting.process_ready() == 0
    await asyncio.sleep(0)


async def test_the_service_watches_its_drop_folder_when_one_is_configured(infra, database_url, prefix, tmp_path):
    import uuid

    from services.billing.app import create_app
    from services.runtime.clock import FixedClock
    from tests.unit.billing.builders import NOW

    settings = BillingSettings(database_url=database_url, kafka_bootstrap_servers=infra.kafka_bootstrap,
                               topic_prefix=prefix, jwt_secret=SECRET, inbound_dir=tmp_path,
                               inbound_poll_seconds=0.2, inbound_settle_seconds=0)
    app = create_app(settings, runtime_kwargs={"schema": f"billing_{uuid.uuid4().hex[:10]}", "clock": FixedClock(NOW)})
    async with app.router.lifespan_context(app):
        (tmp_path / "remit.835").write_text(write_835([Paid("PB9999999999", "60", "60", "ICN9")]))
        for _ in range(150):
            if (tmp_path / "processed" / "remit.835").exists():
                break
            await asyncio.sleep(0.1)
        assert (tmp_path / "processed" / "remit.835").exists()
        async with app.state.runtime.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT kind, source, summary FROM inbound_files")
    # a remittance for a claim that is not ours is kept, and said so, rather than refused
    assert (row["kind"], row["source"]) == ("835", "directory")
    assert row["summary"]["remittances"][0]["matched"] == 0
