"""The billers' pages in a real browser (headless Chromium, desktop-sized): two peer sessions become claims a biller
approves (one after a hold), exports as an 837P, then the 999, 277CA and 835 uploaded through the page post one
paid and one denied (reason in words), the remittance reconciled; the denial corrected by a replacement."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from services.billing.validate837 import validate_837
from tests.e2e.test_billing_lifecycle import ED
from tests.e2e.test_billing_lifecycle import sessions as lifecycle_sessions
from tests.e2e.test_console_browser import check_page, click, http_sign_in, session_of, sign_in, text
from tests.e2e.test_walking_skeleton import poll
from tests.support.browser import Screens, add_account, running_console, wait_for
from tests.support.x12_replies import Ack, Paid, write_277ca, write_835, write_999

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console(stack):
    with running_console(stack, name="console-billing") as running:
        yield running


def sessions(stack, facility: str, visit_number: str, starts: list[datetime]) -> str:
    """The lifecycle test's peer sessions for a patient of its own (NJ's cap of 16 units a day counts per member)."""
    return lifecycle_sessions(stack, facility, visit_number, starts, member_id=f"NJ{uuid.uuid4().int % 10**7:07d}")


def as_browser(driver, console, path: str, **params) -> httpx.Response:
    """A file link followed with the browser's session (a download the test can read)."""
    cookie = driver.get_cookie("pb_session")["value"]
    return httpx.get(console["url"] + path, params=params, headers={"Cookie": f"pb_session={cookie}"}, timeout=30)


def upload(driver, tmp_path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    driver.find_element(By.ID, "file").send_keys(str(path))
    click(driver, "form[action='/billing/inbound'] button")


def go(driver, console, path: str, heading: str) -> None:
    driver.get(console["url"] + path)
    wait_for(lambda: heading in text(driver), what=heading)


def test_a_biller_takes_claims_from_ready_to_paid_and_denied_in_the_browser(stack, console, browser, request,
                                                                          tmp_path):
    facility, visit_number = f"B{uuid.uuid4().hex[:6].upper()}", "V" + uuid.uuid4().hex[:8]
    billing = stack.urls["billing"]
    r = httpx.post(f"{billing}/facilities", json={"code": facility, **ED}, headers=stack.headers("billing"))
    assert r.status_code == 200, r.text
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    today = now.date()
    member_id = sessions(stack, facility, visit_number, [now - timedelta(hours=h) for h in (6, 4)])
    claims = poll(lambda: (lambda cs: cs if len(cs) == 2 else None)(
        [c for c in httpx.get(f"{billing}/claims", params={"facility": facility},
                              headers=stack.headers("billing")).json() if c["status"] == "prepared"]))
    paid, denied = sorted(claims, key=lambda c: c["claim_number"])

    username, password = f"biller-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    add_account(console["env"], username, password, "billing")
    shots = Screens(browser, request.node.name)
    sign_in(browser, console, username, password, "/billing")
    queue = f"/billing?facility={facility}"  # this test's ED: other tests' claims share the stack
    go(browser, console, queue, "Work queue")
    wait_for(lambda: paid["claim_number"] in text(browser), what="ready claims")
    assert "Ready to approve" in text(browser) and denied["claim_number"] in text(browser)
    check_page(browser, console, shots, "queue-ready")

    # one held by the biller (the reason and the fix in words), then approved; the other approved straight away
    browser.find_element(By.ID, f"reason-{denied['id']}").send_keys("check the minutes")
    click(browser, f"form[action='/billing/claims/{denied['id']}/hold'] button")
    wait_for(lambda: "Held." in text(browser), what="held")
    assert "Held by a biller. (check the minutes)" in text(browser)
    check_page(browser, console, shots, "claim-held")
    go(browser, console, queue, "Work queue")
    assert "Approve when resolved." in text(browser)
    check_page(browser, console, shots, "queue-held")
    for claim in (denied, paid):
        click(browser, f"form[action='/billing/claims/{claim['id']}/approve'] button")
        wait_for(lambda: "Approved: it goes out in the next batch." in text(browser), what="approved")
        go(browser, console, queue, "Work queue")

    # export the batch and download its 837P
    Select(browser.find_element(By.ID, "payer")).select_by_visible_text("NJ-MEDICAID")
    click(browser, "form[action='/billing/batches'] button")
    wait_for(lambda: "Batch exported." in text(browser), what="batch exported")
    check_page(browser, console, shots, "batches-exported")
    batch_id = browser.current_url.split("made=")[1]
    x12 = as_browser(browser, console, f"/billing/batches/{batch_id}/837")
    assert x12.status_code == 200 and x12.headers["content-type"].startswith("application/edi-x12")
    assert validate_837(x12.text) == [] and paid["claim_number"] in x12.text and denied["claim_number"] in x12.text
    batch = httpx.get(f"{billing}/batches/{batch_id}", headers=stack.headers("billing")).json()
    icn = str(int(batch["interchange_control_number"]))

    # a 999 answering no batch of ours is refused, with the segment and the reason on the page
    go(browser, console, "/billing/inbound", "Upload a 999")
    check_page(browser, console, shots, "inbound")
    upload(browser, tmp_path, "stray.999", write_999("999999991", day=today))
    wait_for(lambda: "Refused; nothing of it was applied" in text(browser), what="refusal")
    assert "Segment 0 (AK1): AK102 names no batch of ours" in text(browser)
    check_page(browser, console, shots, "inbound-refused")
    # the refused file is kept; trying it again refuses it again and counts the try
    kept = browser.find_element(By.XPATH, "//tr[td[2][normalize-space()='stray.999']]")
    assert "AK102 names no batch of ours" in kept.text and kept.text.split()[-3] == "1"
    click(browser, f"#{kept.get_attribute('id')} button")
    wait_for(lambda: "Refused; nothing of it was applied" in text(browser), what="refused again")
    kept = browser.find_element(By.XPATH, "//tr[td[2][normalize-space()='stray.999']]")
    assert kept.text.split()[-3] == "2"

    trace = f"EFT{uuid.uuid4().hex[:8].upper()}"
    payer_numbers = {c["id"]: f"2026{uuid.uuid4().int % 10**9:09d}" for c in (paid, denied)}
    replies = [("batch.999", write_999(icn, day=today)),
               ("claims.277", write_277ca([Ack(c["claim_number"], c["charge"], True, payer_numbers[c["id"]])
                                          for c in (paid, denied)], day=today)),
               ("remit.835", write_835([
                   Paid(paid["claim_number"], paid["charge"], "45", payer_numbers[paid["id"]],
                        adjustments=[("CO", "45", str(float(paid["charge"]) - 45))]),
                   Paid(denied["claim_number"], denied["charge"], "0", payer_numbers[denied["id"]], status="4",
                        adjustments=[("CO", "16", denied["charge"])], remarks=["M76"])],
                   day=today, trace=trace))]
    for name, content in replies:
        upload(browser, tmp_path, name, content)
        wait_for(lambda shown=f"({name})": shown in text(browser), what=f"{name} received")
        assert "Refused" not in text(browser)
    assert "1 paid, 1 denied" in text(browser)
    check_page(browser, console, shots, "inbound-835")

    # the batch's 999 and its claims' outcome; the denial in words in the queue; the remittance reconciled
    go(browser, console, "/billing/batches", "Sent batches")
    row = browser.find_element(By.ID, f"b-{batch_id}").text
    assert "accepted (999)" in row and "1 paid" in row and "1 denied" in row
    check_page(browser, console, shots, "batches-answered")
    go(browser, console, queue, "Work queue")
    denial_row = [tr.text for tr in browser.find_elements(By.CSS_SELECTOR, "tr") if denied["claim_number"] in tr.text]
    assert denial_row and "M76: missing, incomplete" in denial_row[0] and "Correct and resubmit" in denial_row[0]
    check_page(browser, console, shots, "queue-denied")
    go(browser, console, "/billing/remittances", "Remittances")
    check_page(browser, console, shots, "remittances")
    [row] = [tr for tr in browser.find_elements(By.CSS_SELECTOR, "tbody tr") if trace in tr.text]
    assert "Yes" in row.text and row.text.count("$45.00") == 2  # the payment (BPR02) and the claims paid
    row.find_element(By.TAG_NAME, "a").click()
    wait_for(lambda: "Claims posted" in text(browser), what="remittance")
    assert browser.find_element(By.ID, "bpr").text == "$45.00"
    assert browser.find_element(By.ID, "claims-paid").text == "$45.00"
    assert browser.find_element(By.ID, "reconciled").text.startswith("Yes")
    assert paid["claim_number"] in text(browser) and denied["claim_number"] in text(browser)
    check_page(browser, console, shots, "remittance")

    go(browser, console, f"/billing/claims/{paid['id']}", "Claim")
    assert browser.find_element(By.ID, "claim-status").text == "paid" and "$45.00" in text(browser)

    # the denial corrected (65 minutes, a second diagnosis) and resubmitted as a replacement, which is approved
    go(browser, console, f"/billing/claims/{denied['id']}", "Claim")
    assert "Why the payer denied it" in text(browser)
    check_page(browser, console, shots, "claim-denied")
    minutes = browser.find_element(By.ID, "minutes")
    minutes.clear()
    minutes.send_keys("65")
    diagnoses = browser.find_element(By.ID, "diagnoses")
    diagnoses.clear()
    diagnoses.send_keys("F11.20, Z91.19")
    click(browser, "form[action$='/replace'] button")
    wait_for(lambda: "Replacement made" in text(browser), what="replacement")
    shown = text(browser)
    assert f"replacement of {denied['claim_number']}" in shown, shown
    assert "F11.20, Z91.19" in shown and "4 · $80.00" in shown, shown
    check_page(browser, console, shots, "claim-replacement")
    click(browser, "form[action$='/approve'] button")
    wait_for(lambda: "Approved: it goes out" in text(browser), what="replacement approved")

    # the month's claims as CSV, with the browser's session
    csv = as_browser(browser, console, "/billing/reports/claims.csv", month=paid["service_date"][:7])
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("claim_number,status") and paid["claim_number"] in csv.text
    assert member_id not in csv.text

    # a form without its CSRF token does nothing; other roles do not see the billers' pages
    cookie = {"Cookie": f"pb_session={browser.get_cookie('pb_session')['value']}"}
    forged = httpx.post(f"{console['url']}/billing/claims/{paid['id']}/void", data={"key": str(uuid.uuid4())},
                        headers=cookie)
    assert forged.status_code == 403
    assert httpx.get(f"{billing}/claims/{paid['id']}", headers=stack.headers("billing")).json()["status"] == "paid"
    username, password = f"super-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    add_account(console["env"], username, password, "supervisor")
    supervisor = session_of(http_sign_in(console, username, password))
    for path in ("/billing", "/billing/batches", "/billing/inbound", "/billing/remittances",
                 "/billing/reports/claims.csv", f"/billing/batches/{batch_id}/837"):
        assert httpx.get(console["url"] + path, headers=supervisor).status_code == 403, path
