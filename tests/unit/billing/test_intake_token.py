"""How billing authenticates to intake: a configured token as is, else a 5-minute local token of role billing."""
import time

import jwt
import pytest

from services.billing.settings import BillingSettings
from services.runtime.auth import TokenVerifier

pytestmark = pytest.mark.unit
SECRET = "unit-secret-" + "y" * 24


async def test_without_a_configured_token_billing_signs_a_short_lived_billing_token():
    settings = BillingSettings(jwt_secret=SECRET)
    token = settings.intake_client().token()
    who = await TokenVerifier(secret=SECRET, issuer="peerbridge-local", audience="peerbridge").verify(token)
    assert who.roles == {"billing"}
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert 0 < exp - time.time() <= 300


def test_a_configured_token_is_shown_as_is_and_hidden_from_the_settings_text(monkeypatch):
    monkeypatch.setenv("BILLING_INTAKE_TOKEN", "from-the-identity-provider")
    settings = BillingSettings(jwt_secret=SECRET)
    assert settings.intake_client().token() == "from-the-identity-provider"
    assert "from-the-identity-provider" not in repr(settings)
