"""The peer app in a real browser (headless Chromium, phone-sized): an MLLP overdose to a logged encounter."""
from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from services.intake.domain.hl7 import parse
from tests.e2e.test_walking_skeleton import add_specialist, poll
from tests.e2e.test_intake_mllp import send
from tests.support.browser import Screens, add_account, axe_violations, chromium, running_console, wait_for
from tests.unit.intake.messages import adt

pytestmark = pytest.mark.e2e
PAGE_LIMIT = 100_000  # bytes of HTML per page


@pytest.fixture(scope="module")
def console(stack):
    """The console process beside the e2e stack, on the same database, secret and topic prefix."""
    with running_console(stack) as running:
        yield running


@pytest.fixture
def browser(tmp_path):
    driver = chromium(tmp_path / "profile")
    yield driver
    driver.quit()


def send_mllp(stack, frame: bytes) -> None:
    assert parse(send(stack, frame)).get("MSA", 1) == "AA"


def peer_with_account(stack, console, facility: str) -> tuple[str, str, str]:
    """A specialist on shift at the facility and a sign-in account bound to them: (specialist id, user, password)."""
    specialist_id = add_specialist(stack, facility)
    username, password = f"peer-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    add_account(console["env"], username, password, "peer", specialist_id)
    return specialist_id, username, password


def overdose(stack, facility: str) -> str:
    visit_number = "V" + uuid.uuid4().hex[:8]
    send_mllp(stack, adt("A04", facility=facility, visit_number=visit_number, diagnoses=("T40.1X1A",),
                         complaint="found down, narcan given"))
    return visit_number


def offer_of(stack, facility: str, visit_number: str) -> dict:
    return poll(lambda: httpx.get(f"{stack.urls['pairing']}/assignments", headers=stack.headers("supervisor"),
                                  params={"facility": facility, "visit_number": visit_number}).json())[0]


def sign_in(driver, console, username: str, password: str, path: str = "/peer") -> None:
    driver.get(console["url"] + path)
    assert "/?next=" in driver.current_url  # not signed in: sent to sign-in, and back afterwards
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
    wait_for(lambda: driver.current_url.endswith(path), what=f"signed in at {path}")


def page_bytes(driver, console, path: str) -> int:
    """The HTML the server sends for this page to this browser's session."""
    cookie = driver.get_cookie("pb_session")["value"]
    r = httpx.get(console["url"] + path, headers={"Cookie": f"pb_session={cookie}"})
    assert r.status_code == 200, r.text[:300]
    return len(r.content)


def check_page(driver, console, shots: Screens, name: str) -> None:
    """Every step: a screenshot, no serious or critical axe-core violation, and HTML under 100 kB."""
    shots.shot(name)
    assert axe_violations(driver) == [], name
    path = driver.current_url.removeprefix(console["url"]).split("?")[0]
    assert page_bytes(driver, console, path) < PAGE_LIMIT, name


def click(driver, css: str) -> None:
    """Scroll the control to the middle of the screen (clear of the tab bar), as a thumb would, and tap it."""
    element = driver.find_element(By.CSS_SELECTOR, css)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def text(driver, patience: float = 5.0) -> str:
    """The main content's text, once the page shows one ("" if it is still being replaced after `patience` s)."""
    deadline = time.monotonic() + patience
    while True:
        try:
            return driver.find_element(By.TAG_NAME, "main").text
        except (NoSuchElementException, StaleElementReferenceException):
            pass
        except WebDriverException as exc:
            # The same race as a stale element, as Chromium sometimes words it: the page was replaced between the
            # find and the read.
            if "does not belong to the document" not in str(exc):
                raise
        # A page still loading after a navigation, or replaced by its own refresh: read it again shortly.
        if time.monotonic() > deadline:
            return ""
        time.sleep(0.1)


def test_a_peer_works_an_overdose_from_the_offer_to_a_logged_encounter_on_a_phone(stack, console, browser, request):
    facility = f"C{uuid.uuid4().hex[:6].upper()}"
    specialist_id, username, password = peer_with_account(stack, console, facility)
    shots = Screens(browser, request.node.name)
    sign_in(browser, console, username, password)
    wait_for(lambda: "No open offers" in text(browser), what="the empty Now list")
    check_page(browser, console, shots, "now-empty")

    # an overdose arrives over MLLP; the Now list shows it without a reload
    visit_number = overdose(stack, facility)
    offer = offer_of(stack, facility, visit_number)
    assert offer["specialist_id"] == specialist_id
    card = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#offers .offer"), what="offer on Now")
    shown = card[0].text
    assert "Opioid overdose" in shown and f"{facility} · ED, bay {offer['visit']['bed']}" in shown
    assert "Spanish" in shown and "min" in shown and "left" in shown
    check_page(browser, console, shots, "now-offer")

    click(browser, "#offers .offer a.button")
    assert browser.current_url.endswith(f"/peer/offers/{offer['id']}")  # the page notify's deep links open
    check_page(browser, console, shots, "offer")
    click(browser, f"form[action$='/{offer['id']}/accept'] button")
    wait_for(lambda: browser.current_url.endswith(f"/peer/cases/{offer['id']}"), what="case page")
    check_page(browser, console, shots, "case-accepted")

    click(browser, "form[action$='/arrive'] button")
    wait_for(lambda: "Arrival recorded." in text(browser), what="arrival")
    check_page(browser, console, shots, "case-arrived")

    click(browser, f"a[href='/peer/cases/{offer['id']}/consent']")
    for element in ("Who may disclose", "What may be disclosed", "To whom", "Why", "My right to revoke", "Expiry",
                    "Signature and date", "Redisclosure"):
        assert element in text(browser)
    check_page(browser, console, shots, "consent")
    pad = browser.find_element(By.ID, "pad")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", pad)
    ActionChains(browser).move_to_element_with_offset(pad, -80, 10).click_and_hold().move_by_offset(60, -30) \
        .move_by_offset(60, 40).move_by_offset(50, -20).release().perform()
    assert browser.find_element(By.ID, "signature").get_attribute("value").startswith("data:image/png;base64,")
    click(browser, "#confirm")
    shots.shot("consent-signed")
    click(browser, "#sign button[type=submit]")
    wait_for(lambda: "Consent recorded." in text(browser), what="consent")
    assert "Signed: the patient consents" in text(browser)

    click(browser, f"a[href='/peer/cases/{offer['id']}/encounter']")
    minutes = browser.find_element(By.ID, "minutes")
    minutes.clear()
    minutes.send_keys("45")
    browser.find_element(By.ID, "note").send_keys("Talked about MOUD options ZZNOTE")
    check_page(browser, console, shots, "encounter")
    click(browser, "form[action$='/encounter'] button[type=submit]")
    wait_for(lambda: "Encounter logged." in text(browser), what="encounter")
    assert "1 logged." in text(browser) and "Follow-up call" in text(browser)
    check_page(browser, console, shots, "case-done")
    Select(browser.find_element(By.ID, "outcome")).select_by_value("reached")
    click(browser, "form[action$='/contacts'] button")
    wait_for(lambda: "Contact recorded." in text(browser), what="contact")
    # a call at the bedside counts for no follow-up window (the first opens 48 h after the case): each stays "later"
    assert "Follow-up call, due" in text(browser) and "(call between" in text(browser)
    assert ": Reached" not in text(browser) and "later" in text(browser)
    click(browser, "nav.tabs a[href='/peer/cases']")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, f"a[href='/peer/cases/{offer['id']}']"), what="cases")
    assert "encounter logged" in text(browser)
    check_page(browser, console, shots, "my-cases")
    click(browser, "nav.tabs a[href='/peer/shifts']")
    wait_for(lambda: "Caseload" in text(browser), what="shifts")
    assert "1 open case of a cap of 8." in text(browser).replace("\n", " ") and f"{facility}:" in text(browser)
    check_page(browser, console, shots, "my-shifts")

    # what the peer did is on record where integrators read it: pairing, the FHIR Task, the draft claim
    peer = stack.headers("peer", specialist_id)
    done = httpx.get(f"{stack.urls['pairing']}/assignments/{offer['id']}", headers=peer).json()
    assert done["status"] == "completed" and done["arrived_at"] and done["encounters"] == 1
    assert done["consent"]["granted"] is True
    supervisor = stack.headers("supervisor")
    fhir = f"{stack.urls['referral']}/fhir"
    identifier = f"urn:peerbridge:ed-visit|{facility}:{visit_number}"
    service_request = poll(lambda: httpx.get(f"{fhir}/ServiceRequest", params={"identifier": identifier},
                                             headers=supervisor).json().get("entry"))[0]["resource"]

    def task_in_follow_up():
        bundle = httpx.get(f"{fhir}/Task", params={"focus": f"ServiceRequest/{service_request['id']}"},
                           headers=supervisor).json()
        task = bundle.get("entry", [{}])[0].get("resource", {})
        return task.get("status") == "in-progress" and "follow-up" in str(task.get("businessStatus")) and task
    task = poll(task_in_follow_up)
    assert task["owner"] == {"reference": f"PractitionerRole/{specialist_id}"}
    # the finger signature reached the FHIR Consent as its source (hash and where to read it), the facility named
    consent = httpx.get(f"{fhir}/Consent", params={"identifier": identifier}, headers=supervisor).json()
    consent = consent["entry"][0]["resource"]
    assert consent["sourceAttachment"]["contentType"] == "image/png" and consent["sourceAttachment"]["hash"]
    assert consent["performer"] == [consent["patient"]]
    assert [a["reference"]["identifier"]["value"] for a in consent["provision"]["actor"]] == [
        "peer-recovery", facility]
    claims = poll(lambda: httpx.get(f"{stack.urls['billing']}/claims", headers=stack.headers("billing"),
                                    params={"facility": facility, "visit_number": visit_number}).json())
    assert len(claims) == 1 and claims[0]["units"] == 3  # 45 minutes: three 15-minute units
    assert "ZZNOTE" not in stack.logs()  # the note stays in pairing, never in a log


def test_a_peer_sees_only_their_own_offers_and_cases_in_the_browser(stack, console, browser, request):
    mine, theirs = f"M{uuid.uuid4().hex[:6].upper()}", f"T{uuid.uuid4().hex[:6].upper()}"
    _me, username, password = peer_with_account(stack, console, mine)
    other, _u, _p = peer_with_account(stack, console, theirs)
    their_offer = offer_of(stack, theirs, overdose(stack, theirs))
    assert their_offer["specialist_id"] == other
    shots = Screens(browser, request.node.name)
    sign_in(browser, console, username, password)
    time.sleep(2.5)  # two polls of the Now list
    assert theirs not in text(browser) and "No open offers" in text(browser)
    for path in (f"/peer/offers/{their_offer['id']}", f"/peer/cases/{their_offer['id']}"):
        browser.get(console["url"] + path)
        assert "There is no such offer or case among yours." in text(browser), path
        assert theirs not in browser.page_source
    shots.shot("not-yours")
    assert axe_violations(browser) == []
    # and a tap on it is refused by pairing: the offer is still the other peer's
    browser.get(console["url"] + "/peer")
    csrf = browser.find_element(By.CSS_SELECTOR, "input[name=csrf]").get_attribute("value")
    cookie = browser.get_cookie("pb_session")["value"]
    r = httpx.post(f"{console['url']}/peer/offers/{their_offer['id']}/accept", data={"csrf": csrf},
                   headers={"Cookie": f"pb_session={cookie}"})
    assert r.status_code == 404
    still = httpx.get(f"{stack.urls['pairing']}/assignments/{their_offer['id']}", headers=stack.headers("supervisor"))
    assert still.json()["status"] == "offered"


def test_a_decline_needs_a_reason_and_sends_the_offer_on(stack, console, browser, request):
    facility = f"D{uuid.uuid4().hex[:6].upper()}"
    _sid, username, password = peer_with_account(stack, console, facility)
    offer = offer_of(stack, facility, overdose(stack, facility))
    shots = Screens(browser, request.node.name)
    sign_in(browser, console, username, password, path=f"/peer/offers/{offer['id']}")
    reason = browser.find_element(By.ID, "reason")
    assert reason.get_attribute("required") is not None  # the browser asks for one before anything is sent
    browser.execute_script("arguments[0].removeAttribute('required')", reason)  # and the server, too
    click(browser, f"form[action$='/{offer['id']}/decline'] button")
    wait_for(lambda: "Choose a reason to decline." in text(browser), what="reason asked")
    pairing = f"{stack.urls['pairing']}/assignments/{offer['id']}"
    assert httpx.get(pairing, headers=stack.headers("supervisor")).json()["status"] == "offered"
    Select(browser.find_element(By.ID, "reason")).select_by_value("busy-with-patient")
    shots.shot("decline-reason")
    click(browser, f"form[action$='/{offer['id']}/decline'] button")
    wait_for(lambda: "Declined. The next peer is being asked." in text(browser), what="declined")
    shots.shot("declined")
    assert httpx.get(pairing, headers=stack.headers("supervisor")).json()["status"] == "declined"


def test_a_tap_without_a_connection_says_not_sent_and_is_sent_once_when_back(stack, console, browser, request):
    facility = f"O{uuid.uuid4().hex[:6].upper()}"
    _sid, username, password = peer_with_account(stack, console, facility)
    offer = offer_of(stack, facility, overdose(stack, facility))
    shots = Screens(browser, request.node.name)
    sign_in(browser, console, username, password, path=f"/peer/offers/{offer['id']}")
    browser.set_network_conditions(offline=True, latency=0, download_throughput=-1, upload_throughput=-1)
    click(browser, f"form[action$='/{offer['id']}/accept'] button")
    banner = wait_for(lambda: browser.find_element(By.ID, "net").is_displayed()
                      and "not sent" in browser.find_element(By.ID, "net").text, what="offline banner")
    assert banner
    shots.shot("offline-not-sent")
    assert axe_violations(browser) == []
    pairing = f"{stack.urls['pairing']}/assignments/{offer['id']}"
    assert httpx.get(pairing, headers=stack.headers("supervisor")).json()["status"] == "offered"
    browser.set_network_conditions(offline=False, latency=0, download_throughput=-1, upload_throughput=-1)
    send_again = browser.find_elements(By.CSS_SELECTOR, "#net button")
    if send_again and "/peer/cases/" not in browser.current_url:
        try:
            send_again[0].click()
        except Exception:  # the page already moved on: the online event sent it first
            pass
    wait_for(lambda: browser.current_url.endswith(f"/peer/cases/{offer['id']}"), what="sent after reconnect")
    shots.shot("sent-after-reconnect")
    assert httpx.get(pairing, headers=stack.headers("supervisor")).json()["status"] == "accepted"


def _cookie(response: httpx.Response, name: str) -> str | None:
    """A cookie the console set (read from Set-Cookie: a Secure cookie is not kept by a client on plain http)."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}=") and not header.startswith(f'{name}="";'):
            return header
    return None


def http_sign_in(console, username: str, password: str, next_path: str = "", csrf: bool = True) -> httpx.Response:
    form = httpx.get(console["url"] + "/")
    pre = _cookie(form, "pb_signin").split(";")[0].split("=", 1)[1]
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    assert token == pre  # the sign-in form's double-submit token
    return httpx.post(console["url"] + "/signin", headers={"Cookie": f"pb_signin={pre}"},
                      data={"username": username, "password": password, "next": next_path,
                            **({"csrf": token} if csrf else {})})


def session_of(response: httpx.Response) -> dict[str, str]:
    return {"Cookie": _cookie(response, "pb_session").split(";")[0]}


def test_each_role_signs_in_to_its_own_pages_with_a_secure_httponly_lax_cookie(console):
    for role, home in (("supervisor", "/supervisor"), ("billing", "/billing")):
        username, password = f"{role}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
        add_account(console["env"], username, password, role)
        r = http_sign_in(console, username, password)
        assert (r.status_code, r.headers["location"]) == (303, home)
        flags = _cookie(r, "pb_session").lower()
        assert "httponly" in flags and "secure" in flags and "samesite=lax" in flags and "max-age" not in flags
        page = httpx.get(console["url"] + home, headers=session_of(r))
        assert page.status_code == 200 and "Signed in as Test " + role in page.text
        assert page.headers["cache-control"] == "no-store" and "script-src 'self'" in page.headers[
            "content-security-policy"] and "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert httpx.get(console["url"] + "/peer", headers=session_of(r)).status_code == 403
    wrong = http_sign_in(console, username, "not-the-password")
    assert wrong.status_code == 401 and "do not match an account" in wrong.text and _cookie(wrong, "pb_session") is None


def test_forms_without_their_csrf_token_are_refused_and_sign_out_ends_the_session(stack, console):
    _sid, username, password = peer_with_account(stack, console, f"X{uuid.uuid4().hex[:6].upper()}")
    no_token = http_sign_in(console, username, password, csrf=False)
    assert no_token.status_code == 303 and _cookie(no_token, "pb_session") is None
    r = http_sign_in(console, username, password, next_path="/peer/shifts")
    assert r.headers["location"] == "/peer/shifts"
    session = session_of(r)
    shifts = httpx.get(console["url"] + "/peer/shifts", headers=session)
    assert "0</strong> open cases" in shifts.text and "of a cap of <strong>8</strong>" in shifts.text
    token = re.search(r'name="csrf" value="([^"]+)"', shifts.text).group(1)
    for path in ("/signout", f"/peer/offers/{uuid.uuid4()}/accept"):
        assert httpx.post(console["url"] + path, headers=session, data={"csrf": "forged"}).status_code == 403
    out = httpx.post(console["url"] + "/signout", headers=session, data={"csrf": token})
    assert (out.status_code, out.headers["location"]) == (303, "/?signed_out=1")
    again = httpx.get(console["url"] + "/peer", headers=session)
    assert (again.status_code, again.headers["location"]) == (303, "/?next=/peer&expired=1")


def test_sign_in_returns_only_to_a_path_of_the_console(stack, console):
    _sid, username, password = peer_with_account(stack, console, f"R{uuid.uuid4().hex[:6].upper()}")
    for elsewhere in ("//attacker.example/x", "https://attacker.example/", "/\\attacker.example"):
        assert http_sign_in(console, username, password, next_path=elsewhere).headers["location"] == "/peer"


def test_the_app_installs_and_its_service_worker_caches_the_shell_only(console):
    manifest = httpx.get(console["url"] + "/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.json()["start_url"] == "/peer" and manifest.json()["display"] == "standalone"
    worker = httpx.get(console["url"] + "/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    cached = re.search(r"var FILES = \[([^\]]*)\]", worker.text).group(1)
    assert sorted(re.findall(r"'([^']+)'", cached)) == ["/offline", "/static/app.css", "/static/app.js",
                                                        "/static/icon.svg"]
    assert "req.method !== 'GET'" in worker.text  # taps are never answered from a cache
    assert "Nothing is shown without a connection" in httpx.get(console["url"] + "/offline").text
