"""How long the broker may hold each service's fetch: short on the path a peer waits on, longer off it."""
import pytest
from pydantic import ValidationError

from services.billing.settings import BillingSettings
from services.notify.settings import NotifySettings
from services.pairing.settings import PairingSettings
from services.referral.settings import ReferralSettings


@pytest.fixture(autouse=True)
def _no_fetch_settings(monkeypatch):
    for name in ("PEERBRIDGE_CONSUMER_FETCH_WAIT_MS", "BILLING_CONSUMER_FETCH_WAIT_MS",
                 "NOTIFY_CONSUMER_FETCH_WAIT_MS"):
        monkeypatch.delenv(name, raising=False)


def test_the_chain_to_the_offer_and_the_task_waits_least_and_billing_longest():
    assert PairingSettings().consumer_fetch_wait_ms == 30
    assert ReferralSettings().consumer_fetch_wait_ms == 30
    assert NotifySettings().consumer_fetch_wait_ms == 100
    assert BillingSettings().consumer_fetch_wait_ms == 500


def test_the_shared_setting_applies_to_every_service(monkeypatch):
    monkeypatch.setenv("PEERBRIDGE_CONSUMER_FETCH_WAIT_MS", "40")
    waits = {s().consumer_fetch_wait_ms for s in (PairingSettings, ReferralSettings, NotifySettings, BillingSettings)}
    assert waits == {40}


def test_a_services_own_setting_wins_over_the_shared_one(monkeypatch):
    monkeypatch.setenv("PEERBRIDGE_CONSUMER_FETCH_WAIT_MS", "40")
    monkeypatch.setenv("BILLING_CONSUMER_FETCH_WAIT_MS", "1000")
    monkeypatch.setenv("NOTIFY_CONSUMER_FETCH_WAIT_MS", "60")
    assert BillingSettings().consumer_fetch_wait_ms == 1000
    assert NotifySettings().consumer_fetch_wait_ms == 60
    assert PairingSettings().consumer_fetch_wait_ms == 40


@pytest.mark.parametrize("name, value", [("BILLING_CONSUMER_FETCH_WAIT_MS", "-1"),
                                         ("NOTIFY_CONSUMER_FETCH_WAIT_MS", "60000"),
                                         ("PEERBRIDGE_CONSUMER_FETCH_WAIT_MS", "-5")])
def test_a_wait_the_broker_refuses_or_the_client_times_out_on_is_refused_at_start(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    settings = {"BILLING": BillingSettings, "NOTIFY": NotifySettings, "PEERBRIDGE": PairingSettings}[name.split("_")[0]]
    with pytest.raises(ValidationError) as err:
        settings()
    assert ("greater than or equal to 0" in str(err.value)) is value.startswith("-")
    assert ("less than or equal to 30000" in str(err.value)) is (not value.startswith("-"))
