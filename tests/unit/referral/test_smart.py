"""SMART Backend Services client settings: scopes in SMART v1 and v2 syntax, registrations from env or file."""
from __future__ import annotations

import json

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.referral.settings import ReferralSettings
from services.referral.smart import SmartAuth, SmartClientConfig, TokenError
from services.runtime.clock import SystemClock

pytestmark = pytest.mark.unit
BASE = {"token_url": "https://ehr.example/token", "client_id": "pb", "kid": "k1", "private_key_file": "/run/k.pem"}


def test_scopes_are_written_in_the_smart_version_the_hospital_speaks():
    assert SmartClientConfig(**BASE, smart_version="v1").scope() == (
        "system/ServiceRequest.write system/Task.write system/Consent.write system/PractitionerRole.write")
    assert SmartClientConfig(**BASE).scope() == (
        "system/ServiceRequest.cus system/Task.cus system/Consent.cus system/PractitionerRole.cus")
    assert SmartClientConfig(**BASE, scopes=["system/*.write"]).scope() == "system/*.write"


def test_only_rs384_and_es384_are_accepted():
    with pytest.raises(ValueError):
        SmartClientConfig(**BASE, alg="HS256")


def test_registrations_come_from_a_file_and_the_environment_wins(tmp_path, monkeypatch):
    file = tmp_path / "smart.json"
    file.write_text(json.dumps({"MERCY": {**BASE, "client_id": "from-file"}, "HOLY": BASE}))
    monkeypatch.setenv("REFERRAL_SMART_CLIENTS", json.dumps({"MERCY": {**BASE, "client_id": "from-env"}}))
    clients = ReferralSettings(smart_clients_file=file).smart()
    assert clients["MERCY"].client_id == "from-env" and clients["HOLY"].client_id == "pb"


async def test_an_unusable_key_is_a_token_error_not_a_crash_of_the_push_loop(tmp_path):
    ec_pem = tmp_path / "ec.pem"
    ec_pem.write_bytes(ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    clients = {"MISSING": SmartClientConfig(**{**BASE, "private_key_file": str(tmp_path / "absent.pem")}),
               "WRONG": SmartClientConfig(**{**BASE, "private_key_file": str(ec_pem)}, alg="RS384")}
    async with httpx.AsyncClient() as http:
        auth = SmartAuth(clients, SystemClock(), http)
        for facility in clients:
            with pytest.raises(TokenError):
                await auth.token(facility)
