"""Signing in to the console with OpenID Connect (code flow with PKCE) against a local fake identity provider."""
from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.e2e.test_walking_skeleton import add_specialist
from tests.support.browser import Screens, axe_violations, chromium, running_console, wait_for
from tests.support.stack import ROOT, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    """The fake provider as its own process, reading its users from a file the tests write."""
    users = tmp_path_factory.mktemp("idp") / "users.json"
    users.write_text("{}")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.fake_idp", str(port), str(users)], cwd=ROOT)
    issuer = f"http://127.0.0.1:{port}"

    def up():
        try:
            return httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
    wait_for(up, timeout=30, what="fake identity provider")
    yield {"issuer": issuer, "users": users}
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def console(stack, idp):
    env = {"CONSOLE_OIDC_ISSUER": idp["issuer"], "CONSOLE_OIDC_ROLE_MAP": json.dumps({"peer-specialist": "peer"}),
           "CONSOLE_OIDC_ROLES_CLAIM": "groups"}
    with running_console(stack, env, name="console-oidc") as running:
        yield running


def users(idp, **people) -> None:
    idp["users"].write_text(json.dumps(people))


def test_a_peer_signs_in_with_the_hospitals_provider_as_their_specialist(stack, idp, console, tmp_path, request):
    facility = "OIDC" + request.node.name[-4:].upper()
    specialist_id = add_specialist(stack, facility)
    users(idp, ana={"name": "Ana Peer", "groups": ["peer-specialist", "staff"], "specialist_id": specialist_id})
    driver = chromium(tmp_path / "profile")
    try:
        shots = Screens(driver, request.node.name)
        driver.get(console["url"] + "/peer/shifts")
        link = driver.find_element(By.CSS_SELECTOR, "a[href^='/oidc/start']")
        assert link.text == "Sign in with your hospital account"
        assert axe_violations(driver) == []
        shots.shot("signin-oidc")
        link.click()
        wait_for(lambda: "Hospital sign-in" in driver.page_source, what="provider's page")
        authorize = parse_qs(urlparse(driver.current_url).query)
        assert authorize["code_challenge_method"] == ["S256"] and len(authorize["code_challenge"][0]) == 43
        Select(driver.find_element(By.ID, "user")).select_by_value("ana")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(lambda: driver.current_url == console["url"] + "/peer/shifts", what="back at the page asked for")
        assert "Ana Peer" in driver.find_element(By.TAG_NAME, "header").text
        assert f"{facility}:" in driver.find_element(By.TAG_NAME, "main").text  # pairing answered as her specialist
        shots.shot("signed-in-oidc")
    finally:
        driver.quit()


def _to_callback(console, idp, user: str) -> str:
    """The flow over plain HTTP: start, the provider's approval for `user`, the callback URL it sends back."""
    start = httpx.get(console["url"] + "/oidc/start")
    assert start.status_code == 303
    query = {k: v[0] for k, v in parse_qs(urlparse(start.headers["location"]).query).items()}
    approved = httpx.get(f"{idp['issuer']}/approve", params={**query, "user": user})
    return approved.headers["location"]


def test_the_callback_counts_once_and_only_for_a_known_state_and_a_person_with_a_role(console, idp):
    users(idp, bo={"name": "Bo", "groups": ["supervisor"]}, cy={"name": "Cy", "groups": ["nurse"]})
    callback = _to_callback(console, idp, "bo")
    first = httpx.get(callback)
    assert (first.status_code, first.headers["location"]) == (303, "/supervisor")
    assert any(h.startswith("pb_session=") for h in first.headers.get_list("set-cookie"))
    replayed = httpx.get(callback)  # the state was used: a copied callback URL signs no one in
    assert replayed.status_code == 400 and "set-cookie" not in replayed.headers
    url = urlparse(_to_callback(console, idp, "bo"))
    forged = httpx.get(f"{console['url']}/oidc/callback", params={"code": parse_qs(url.query)["code"][0],
                                                                  "state": "made-up"})
    assert forged.status_code == 400
    nurse = httpx.get(_to_callback(console, idp, "cy"))
    assert nurse.status_code == 403 and "No PeerBridge role" in nurse.text
    refused = httpx.get(f"{console['url']}/oidc/callback", params={"error": "access_denied", "state": "x"})
    assert refused.status_code == 400
