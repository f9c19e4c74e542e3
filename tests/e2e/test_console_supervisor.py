"""The supervisor's pages in a real browser (headless Chromium, desktop-sized): a crisis case heads the live board, a
re-match puts the new offer on another peer's phone, escalations are acknowledged, a peer failing a hard constraint
is assigned only with a reason, the roster is edited; axe-core on every page."""
from __future__ import annotations

import asyncio
import base64
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from services.contracts import Indication, PeerSupportIndicated
from services.runtime.envelope import attributes_to_bytes, event_attributes, partition_key, transport_headers
from tests.e2e.test_console_browser import check_page, click, http_sign_in, overdose, peer_with_account, session_of
from tests.e2e.test_console_browser import sign_in, text
from tests.e2e.test_walking_skeleton import add_specialist
from tests.support.browser import Screens, add_account, chromium, running_console, wait_for
from tests.support.ids import random_npi
from tests.support.when import days_ahead, minutes_ago

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def console(stack):
    with running_console(stack, name="console-supervisor") as running:
        yield running


@pytest.fixture
def phone(tmp_path):
    driver = chromium(tmp_path / "phone")
    yield driver
    driver.quit()


def supervisor_signs_in(browser, console) -> str:
    """A new supervisor account signed in on the board (the sign-in page's own URL ends in /supervisor too)."""
    username, password = f"super-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    add_account(console["env"], username, password, "supervisor")
    sign_in(browser, console, username, password, "/supervisor")
    wait_for(lambda: "Live board" in text(browser), what="signed in on the board")
    return username


def crisis_visit(stack, infra, facility: str) -> str:
    """A crisis visit as intake announces it (PeerSupportIndicated with crisis set, on intake.visit.v1)."""
    visit_number = "V" + uuid.uuid4().hex[:8]
    event = PeerSupportIndicated(
        facility=facility, visit_number=visit_number, arrived_at=minutes_ago(5), location="ED", bed="7",
        language="en", diagnoses=["T391X2A"], peer_indicated=True, crisis=True, crisis_rules=["self-harm-intent-2"],
        indications=[Indication(kind="diagnosis", code="T391X2A", category="poisoning", substance="other",
                                reason="intentional poisoning")])
    attrs = event_attributes("intake", "PeerSupportIndicated", event.to_data(), subject=f"{facility}:{visit_number}")

    async def publish():
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(stack.env["PEERBRIDGE_TOPIC_PREFIX"] + "intake.visit.v1",
                                         attributes_to_bytes(attrs), key=partition_key(facility, visit_number),
                                         headers=transport_headers(attrs["id"], attrs["type"], attrs["traceparent"]))
        finally:
            await producer.stop()

    asyncio.run(publish())
    return visit_number


def board(stack, facility: str) -> list[dict]:
    return httpx.get(f"{stack.urls['pairing']}/board", params={"facility": facility},
                     headers=stack.headers("supervisor")).json()


def open_offer(stack, facility: str, visit_number: str) -> dict | None:
    offers = httpx.get(f"{stack.urls['pairing']}/assignments", headers=stack.headers("supervisor"),
                       params={"facility": facility, "visit_number": visit_number, "status": "offered"}).json()
    return offers[-1] if offers else None


def rows(driver) -> list[str]:
    """The board's rows as shown, read in one step (the table is replaced in place every second)."""
    return driver.execute_script("return Array.from(document.querySelectorAll('table.board tbody tr'))"
                                 ".map(function (r) { return r.innerText.replace(/\\s+/g, ' ').trim(); })")


def test_a_crisis_heads_the_board_and_a_rematch_reaches_another_peers_phone(stack, infra, console, browser, phone,
                                                                          request):
    facility = f"S{uuid.uuid4().hex[:6].upper()}"
    peers = {}
    for _ in range(2):
        specialist_id, username, password = peer_with_account(stack, console, facility)
        peers[specialist_id] = (username, password)
        # a webhook contact (supervisors may register one), so notify keeps delivery records for the peer's offers
        r = httpx.put(f"{stack.urls['notify']}/contacts/specialist/{specialist_id}",
                      headers=stack.headers("supervisor"), json={"channels": [{"channel": "webhook", "address": "http://127.0.0.1:9/pager"}]})
        assert r.status_code == 200, r.text
    older = overdose(stack, facility)
    wait_for(lambda: open_offer(stack, facility, older), what="first offer")
    crisis = crisis_visit(stack, infra, facility)
    wait_for(lambda: len(board(stack, facility)) == 2, what="two cases on the board")

    shots = Screens(browser, request.node.name)
    username = supervisor_signs_in(browser, console)
    browser.get(f"{console['url']}/supervisor?facility={facility}")
    wait_for(lambda: len(rows(browser)) == 2, what="board rows")
    first, second = rows(browser)
    assert first.startswith("Crisis") and crisis in first, first  # crisis first, though it came second
    assert older in second and "Offered to Test Peer" in second and "left" in second, second
    check_page(browser, console, shots, "board-crisis-first")

    # the crisis case's hand-off to the facility's crisis route is listed, and its outcome recorded here
    browser.find_element(By.LINK_TEXT, crisis).click()
    wait_for(lambda: "Crisis hand-off" in text(browser), what="crisis hand-off")
    assert "no outcome recorded yet" in text(browser)
    check_page(browser, console, shots, "case-crisis")
    Select(browser.find_element(By.CSS_SELECTOR, "#handoffs select")).select_by_value("handed-off")
    click(browser, "#handoffs form button")
    wait_for(lambda: "Hand-off outcome recorded." in text(browser), what="hand-off outcome")
    assert "Handed off to the route" in text(browser)
    handoffs = httpx.get(f"{stack.urls['pairing']}/crisis-handoffs", params={"facility": facility},
                         headers=stack.headers("supervisor")).json()
    assert [h["outcome"] for h in handoffs] == ["handed-off"]
    browser.get(f"{console['url']}/supervisor?facility={facility}")
    wait_for(lambda: len(rows(browser)) == 2, what="board rows")

    # a new case appears without a reload
    newest = overdose(stack, facility)
    wait_for(lambda: any(newest in row for row in rows(browser)), what="live update")
    assert len(rows(browser)) == 3 and rows(browser)[0].startswith("Crisis") and older in rows(browser)[1]
    shots.shot("board-live")

    # the peer who was not offered the older case opens Now on their phone
    offer = open_offer(stack, facility, older)
    other = next(sid for sid in peers if sid != offer["specialist_id"])
    sign_in(phone, console, *peers[other])
    assert phone.find_elements(By.CSS_SELECTOR, f"a[href='/peer/offers/{offer['id']}']") == []

    # the supervisor re-matches the older case with a reason
    browser.find_element(By.LINK_TEXT, older).click()
    wait_for(lambda: "Where it stands" in text(browser), what="case page")
    messages = wait_for(lambda: httpx.get(f"{stack.urls['notify']}/messages", headers=stack.headers("supervisor"),
                                          params={"facility": facility, "visit_number": older}).json(),
                        what="delivery records")
    browser.refresh()
    table = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#messages tbody tr"), what="messages table")
    assert "Offer" in table[0].text and "webhook" in table[0].text
    assert len(table) == len(messages)
    check_page(browser, console, shots, "case-before-rematch")
    Select(browser.find_element(By.ID, "rematch-reason")).select_by_value("mismatch")
    click(browser, "form[action$='/rematch'] button")
    wait_for(lambda: "Re-matched." in text(browser), what="re-matched")
    new_offer = open_offer(stack, facility, older)
    assert new_offer["specialist_id"] == other and new_offer["id"] != offer["id"]
    assert "rematch" in text(browser) and "Poor match" in text(browser)
    check_page(browser, console, shots, "case-rematched")

    # the new offer appears on the other peer's Now screen without a reload
    wait_for(lambda: phone.find_elements(By.CSS_SELECTOR, f"#offers a[href='/peer/offers/{new_offer['id']}']"),
             timeout=30, what="new offer on the peer's phone")
    Screens(phone, request.node.name + "-phone").shot("peer-now-rematched")
    before = httpx.get(f"{stack.urls['pairing']}/assignments/{offer['id']}", headers=stack.headers("supervisor"))
    assert before.json()["status"] == "withdrawn"

    # a peer cannot see the board
    peer_session = session_of(http_sign_in(console, *peers[other]))
    assert httpx.get(console["url"] + "/supervisor", headers=peer_session).status_code == 403


def test_escalations_overrides_and_the_roster_in_the_browser(stack, console, browser, request):
    facility = f"E{uuid.uuid4().hex[:6].upper()}"
    pairing, lead = stack.urls["pairing"], stack.headers("supervisor")
    # a peer who serves the facility but is not on shift now, with a certification expiring in 20 days
    body = {"name": "Off Shift Peer", "npi": random_npi(), "languages": ["en", "es"], "facilities": [facility],
            "certifications": [{"kind": "CPRS", "number": "Z9", "state": "NJ", "expires_on": days_ahead(20),
                                "ce_due_on": days_ahead(45)}],
            "recovery_since": "2016-03-01", "pathways": ["MOUD-supportive"], "lived_experience": ["opioids"]}
    r = httpx.post(f"{pairing}/specialists", json=body, headers=stack.headers("admin"))
    assert r.status_code == 201, r.text
    peer_id = r.json()["id"]
    visit_number = overdose(stack, facility)  # nobody on shift: escalated, no peer available
    wait_for(lambda: [c for c in board(stack, facility) if c["state"] == "no-peer"], what="escalation")

    shots = Screens(browser, request.node.name)
    username = supervisor_signs_in(browser, console)
    browser.get(f"{console['url']}/supervisor?facility={facility}")
    wait_for(lambda: rows(browser), what="board")
    assert "No peer available" in rows(browser)[0] and "Needs you" in rows(browser)[0]
    browser.find_element(By.LINK_TEXT, visit_number).click()
    wait_for(lambda: "Where it stands" in text(browser), what="case page")
    click(browser, "form[action$='/acknowledge'] button")
    wait_for(lambda: "Escalation acknowledged." in text(browser), what="acknowledged")
    assert f"acknowledged by console:{username}" in text(browser)
    check_page(browser, console, shots, "case-acknowledged")

    # the off-shift peer fails a hard constraint: assigned only with a reason, which is kept and shown
    option = browser.find_element(By.CSS_SELECTOR, f"#assign-peer option[value='{peer_id}']").text
    assert "not on shift here" in option, option
    Select(browser.find_element(By.ID, "assign-peer")).select_by_value(peer_id)
    click(browser, "form[action$='/assign'] button")
    wait_for(lambda: "Not done:" in text(browser), what="refusal")
    assert "override_reason" in text(browser) and "on_shift" in text(browser)
    Select(browser.find_element(By.ID, "assign-peer")).select_by_value(peer_id)
    browser.find_element(By.ID, "override").send_keys("covering by phone tonight")
    click(browser, "form[action$='/assign'] button")
    wait_for(lambda: "Assigned." in text(browser), what="assigned")
    assert "overrode not on shift here, because “covering by phone tonight”" in text(browser)
    assert "Accepted, on the way: Off Shift Peer" in text(browser)
    check_page(browser, console, shots, "case-assigned-override")
    browser.get(f"{console['url']}/supervisor?facility={facility}")
    wait_for(lambda: rows(browser), what="board")
    assert "Accepted, on the way: Off Shift Peer" in rows(browser)[0]

    # the roster: certification warning, caseload, week calendar; add a shift; edit the cap; add a peer
    browser.get(f"{console['url']}/supervisor/roster?facility={facility}")
    row = wait_for(lambda: browser.find_elements(By.ID, f"peer-{peer_id}"), what="roster")[0].text
    assert f"expires {days_ahead(20)} (in 20 days)" in row and "1 / 8" in row and "opioids" in row, row
    assert f"CE: due {days_ahead(45)} (in 45 days)" in row, row
    check_page(browser, console, shots, "roster")
    browser.find_element(By.LINK_TEXT, "Off Shift Peer").click()
    wait_for(lambda: "Coming shifts" in text(browser), what="peer page")
    browser.execute_script("document.getElementById('day').value = arguments[0]", days_ahead(1))
    click(browser, "form[action$='/shifts'] button")
    wait_for(lambda: "Shift added." in text(browser), what="shift added")
    assert f"{days_ahead(1)} 07:00 UTC" in text(browser)
    cap = browser.find_element(By.ID, "caseload_cap")
    cap.clear()
    cap.send_keys("5")
    click(browser, "form.peer-form button[type=submit]")
    wait_for(lambda: "Saved." in text(browser), what="saved")
    check_page(browser, console, shots, "peer-edit")
    edited = httpx.get(f"{pairing}/specialists/{peer_id}", headers=lead).json()
    assert edited["caseload_cap"] == 5 and edited["certifications"][0]["ce_due_on"] == days_ahead(45)
    browser.get(f"{console['url']}/supervisor/roster?facility={facility}&week={days_ahead(1)}")
    row = wait_for(lambda: browser.find_elements(By.ID, f"peer-{peer_id}"), what="roster")[0].text
    assert "1 / 5" in row
    assert f"07:00-15:00 {facility}" in browser.find_element(By.ID, "week").text

    browser.get(f"{console['url']}/supervisor/peers/new")
    browser.find_element(By.ID, "name").send_keys("New Peer")
    browser.find_element(By.ID, "npi").send_keys(random_npi())
    browser.find_element(By.ID, "facilities").send_keys(facility)
    browser.find_element(By.ID, "certifications").send_keys(f"CPRS N1 NJ {days_ahead(400)}")
    check_page(browser, console, shots, "peer-new")
    click(browser, "form.peer-form button[type=submit]")
    wait_for(lambda: "Peer added." in text(browser), what="added")
    assert [p for p in httpx.get(f"{pairing}/specialists", params={"facility": facility}, headers=lead).json()
            if p["name"] == "New Peer"]

    # close the case with its reason
    browser.get(f"{console['url']}/supervisor?facility={facility}")
    wait_for(lambda: rows(browser), what="board")
    browser.find_element(By.LINK_TEXT, visit_number).click()
    wait_for(lambda: "Where it stands" in text(browser), what="case page")
    Select(browser.find_element(By.ID, "close-reason")).select_by_value("transferred-care")
    click(browser, "form[action$='/close'] button")
    wait_for(lambda: "Case closed." in text(browser), what="closed")
    assert browser.find_element(By.ID, "case-state").text == "Closed"
    browser.get(f"{console['url']}/supervisor?facility={facility}")
    wait_for(lambda: "No open cases" in text(browser), what="empty board")


def test_outcomes_equal_pairings_figures_and_supervision_and_leave_work_in_the_browser(stack, console, browser,
                                                                                       request):
    facility = f"O{uuid.uuid4().hex[:6].upper()}"
    pairing, lead = stack.urls["pairing"], stack.headers("supervisor")
    first, second = add_specialist(stack, facility), add_specialist(stack, facility)
    seen = overdose(stack, facility)
    offer = wait_for(lambda: open_offer(stack, facility, seen), what="offer")
    holder = stack.headers("peer", offer["specialist_id"])
    for step in ("accept", "arrive"):
        r = httpx.post(f"{pairing}/assignments/{offer['id']}/{step}", headers=holder)
        assert r.status_code == 200, r.text
    overdose(stack, facility)  # a second indicated visit, offered and not yet answered
    wait_for(lambda: len(board(stack, facility)) == 2, what="two cases")

    shots = Screens(browser, request.node.name)
    supervisor_signs_in(browser, console)
    period = {"facility": facility, "from": days_ahead(-7), "to": days_ahead(1)}
    browser.get(f"{console['url']}/supervisor/outcomes?facility={facility}&from={period['from']}&to={period['to']}")
    wait_for(lambda: "Definitions" in text(browser), what="outcomes page")
    figures = httpx.get(f"{pairing}/outcomes", params=period, headers=lead).json()["measures"]
    shown = 0
    for m in figures:
        cells = browser.find_elements(By.ID, f"m-{m['id']}")
        if not cells:
            continue
        expected = "" if m["value"] is None else str(m["value"])
        assert cells[0].get_attribute("data-value") == expected, (m["id"], expected)
        if m["unit"] == "%" and m["denominator"]:
            assert cells[0].get_attribute("data-denominator") == str(m["denominator"]), m["id"]
        shown += 1
    assert shown >= 20, shown  # every charted figure, from the same period
    by_id = {m["id"]: m for m in figures}
    assert by_id["seen-at-bedside"]["value"] == 50.0 and browser.find_element(By.ID, "m-seen-at-bedside").text == \
        "50 %"
    assert len(browser.find_elements(By.CSS_SELECTOR, "section.chart svg[role=img]")) == 5
    check_page(browser, console, shots, "outcomes")
    # printed (to PDF): the navigation and forms drop out, every chart stays
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.CSS_SELECTOR, "nav.bnav").is_displayed()
    assert all(svg.is_displayed() for svg in browser.find_elements(By.CSS_SELECTOR, "section.chart svg"))
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = base64.b64decode(browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})["data"])
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
    (shots.dir / "outcomes.pdf").write_bytes(pdf)
    cookie = {"Cookie": f"pb_session={browser.get_cookie('pb_session')['value']}"}
    csv = httpx.get(f"{console['url']}/supervisor/outcomes.csv", params=period, headers=cookie)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("group,id,label") and "seen-at-bedside" in csv.text
    table = httpx.get(f"{console['url']}/supervisor/outcomes/reach.csv", params=period, headers=cookie)
    assert "seen-at-bedside,Seen at the bedside,1,2,50.0,%" in table.text, table.text

    # supervision: a 90-minute group session shows against the requirement
    browser.get(f"{console['url']}/supervisor/supervision?facility={facility}")
    wait_for(lambda: "Record a session" in text(browser), what="supervision page")
    Select(browser.find_element(By.ID, "sup-peer")).select_by_value(first)
    minutes = browser.find_element(By.ID, "minutes")
    minutes.clear()
    minutes.send_keys("90")
    Select(browser.find_element(By.ID, "format")).select_by_value("group")
    browser.find_element(By.CSS_SELECTOR, "input[name=topics][value=boundaries]").click()
    click(browser, "form[action='/supervisor/supervision/sessions'] button[type=submit]")
    wait_for(lambda: "Supervision session recorded." in text(browser), what="session recorded")
    row = browser.find_element(By.ID, f"sup-{first}").text
    assert "1.5 /" in row, row
    check_page(browser, console, shots, "supervision")

    # confidential leave: the holder's case is shown re-matched for approval, then applied
    holder_id = offer["specialist_id"]
    browser.get(f"{console['url']}/supervisor/peers/{holder_id}")
    wait_for(lambda: "Confidential leave" in text(browser), what="peer page")
    Select(browser.find_element(By.ID, "leave-reason")).select_by_value("recurrence-of-use")
    click(browser, f"form[action='/supervisor/peers/{holder_id}/leave'] button")
    wait_for(lambda: "Review the re-match" in text(browser), what="leave preview")
    assert "reason (yours only): Recurrence of use" in text(browser)
    plan = httpx.get(f"{pairing}/specialists/{holder_id}/leave/rematch", headers=lead).json()["moves"]
    assert [m["case_id"] for m in plan] == [offer["case_id"]]
    plan_row = browser.find_element(By.CSS_SELECTOR, "#plan tbody tr").text
    assert seen in plan_row
    check_page(browser, console, shots, "leave-preview")
    click(browser, "form[action$='/leave/apply'] button")
    wait_for(lambda: "Re-match applied." in text(browser), what="applied")
    case = httpx.get(f"{pairing}/cases/{offer['case_id']}", headers=lead).json()
    target = plan[0]["to_specialist_id"]
    assert case["specialist_id"] == target if target else case["status"] == "escalated"
    assert target in (second, first, None) and target != holder_id
    shots.shot("leave-applied")
    click(browser, "form[action$='/leave/end'] button")
    wait_for(lambda: "available for matching again" in text(browser), what="back from leave")
