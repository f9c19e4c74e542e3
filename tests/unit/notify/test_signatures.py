"""The SMS provider's webhook signature and our paging webhook's signature, checked against known values."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from services.notify.channels.sms import signature, valid_signature
from services.notify.channels.webhook import sign

pytestmark = pytest.mark.unit

# Twilio's own documented example (TwilioDevEd api-snippets, security/signature_validation).
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675310", "Digits": "1234", "From": "+14158675310",
          "To": "+18005551212"}


def test_the_provider_signature_matches_its_documented_example():
    assert signature("12345", URL, PARAMS) == "GvWf1cFY/Q7PnoempGyD5oXAezc="
    assert valid_signature("12345", URL, PARAMS, "GvWf1cFY/Q7PnoempGyD5oXAezc=")


def test_a_changed_parameter_url_or_token_or_a_missing_signature_is_refused():
    good = signature("12345", URL, PARAMS)
    assert not valid_signature("12345", URL, {**PARAMS, "Digits": "1"}, good)
    assert not valid_signature("12345", URL.replace("foo=1", "foo=2"), PARAMS, good)
    assert not valid_signature("54321", URL, PARAMS, good)
    assert not valid_signature("12345", URL, PARAMS, None)
    assert not valid_signature("", URL, PARAMS, signature("", URL, PARAMS))  # no token configured: nothing passes


def test_the_paging_webhook_signs_timestamp_and_body_with_hmac_sha256():
    body = b'{"id":"m1","kind":"alert"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", "1700000000", body) == f"sha256={expected}"
