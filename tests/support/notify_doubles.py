"""Real servers standing in for notify's providers: an SMS provider with Twilio's API surface (basic auth, form
POSTs, signed webhooks back), a Web Push endpoint that checks the VAPID header, a paging webhook that checks the
HMAC signature, and an SMTP server with STARTTLS and AUTH (aiosmtpd)."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import itertools
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.notify.channels.sms import signature


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@dataclass
class Received:
    """One request a double accepted (or refused, with why)."""

    path: str
    headers: dict
    body: bytes
    form: dict = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    wall: float = field(default_factory=time.time)  # to compare with instants other processes wrote
    refused: str | None = None


class _Server:
    """A threaded HTTP server on a free port, calling handle(method, path, headers, body) -> (status, json)."""

    def __init__(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, payload = outer.handle(self.path, dict(self.headers), body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def handle(self, path, headers, body):  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def accepted(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.refused is None]


class SmsProvider(_Server):
    """Twilio's Messages API surface: checks basic auth and the form, answers a message resource, and signs the
    webhooks it sends back (status callbacks, inbound texts) with the account's auth token."""

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-auth-token",
                 sender: str = "+15550001111"):
        super().__init__()
        self.account_sid, self.auth_token, self.sender = account_sid, auth_token, sender
        self.fail_next: list[int] = []  # statuses to answer the next sends with (500, 429, 400, ...)
        self.ids = itertools.count(1)

    def handle(self, path, headers, body):
        form = dict(parse_qsl(body.decode()))
        rec = Received(path, headers, body, form)
        with self.lock:
            self.received.append(rec)
            expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
            if path != f"/2010-04-01/Accounts/{self.account_sid}/Messages.json":
                rec.refused = "path"
                return 404, {"code": 20404, "message": "not found"}
            if headers.get("Authorization") != expected:
                rec.refused = "auth"
                return 401, {"code": 20003, "message": "Authenticate"}
            if not form.get("To", "").startswith("+") or form.get("From") != self.sender or not form.get("Body"):
                rec.refused = "form"
                return 400, {"code": 21604, "message": "bad form"}
            if self.fail_next:
                status = self.fail_next.pop(0)
                rec.refused = f"failed-{status}"
                return status, {"code": 20500, "message": "provider error"}
            sid = f"SM{next(self.ids):032x}"
            rec.form["_sid"] = sid
            return 201, {"sid": sid, "status": "queued", "to": form["To"], "from": form["From"]}

    def texts_to(self, number: str) -> list[Received]:
        return [r for r in self.accepted() if r.form.get("To") == number]

    def signed(self, url: str, params: dict) -> dict:
        return {"X-Twilio-Signature": signature(self.auth_token, url, params),
                "Content-Type": "application/x-www-form-urlencoded"}

    def reply(self, base_url: str, sender: str, body: str, *, client=httpx) -> httpx.Response:
        """A text from a phone to our number, posted to notify's inbound webhook as Twilio would."""
        params = {"MessageSid": f"SM{next(self.ids):032x}", "AccountSid": self.account_sid, "From": sender,
                  "To": self.sender, "Body": body, "NumMedia": "0"}
        url = f"{base_url}/sms/inbound"
        return client.post(url, data=params, headers=self.signed(url, params))

    def receipt(self, base_url: str, sid: str, status: str, *, client=httpx) -> httpx.Response:
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": self.account_sid}
        url = f"{base_url}/sms/status"
        return client.post(url, data=params, headers=self.signed(url, params))


class PushEndpoint(_Server):
    """A push service: 201 for a request whose VAPID JWT (RFC 8292) verifies with the key it names and is for us."""

    def __init__(self, public_key_b64: str | None = None):
        super().__init__()
        self.public_key_b64 = public_key_b64

    def handle(self, path, headers, body):
        rec = Received(path, headers, body)
        with self.lock:
            self.received.append(rec)
        try:
            scheme, params = headers.get("Authorization", "").split(" ", 1)
            fields = dict(p.split("=", 1) for p in params.split(","))
            assert scheme == "vapid" and (self.public_key_b64 is None or fields["k"] == self.public_key_b64)
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(fields["k"]))
            claims = jwt.decode(fields["t"], key, algorithms=["ES256"], audience=self.url)
            assert claims["sub"].startswith(("mailto:", "https:")) and claims["exp"] > time.time()
            assert int(headers.get("TTL", "-1")) >= 0
        except Exception as exc:  # noqa: BLE001 - any defect of the header is a refusal
            rec.refused = type(exc).__name__
            return 401, {"error": "bad vapid"}
        return 201, {}


class PagingWebhook(_Server):
    """A hospital paging platform: 200 for a request whose HMAC-SHA256 signature is right and recent."""

    def __init__(self, secret: str):
        super().__init__()
        self.secret = secret

    def handle(self, path, headers, body):
        rec = Received(path, headers, body)
        with self.lock:
            self.received.append(rec)
        ts = headers.get("X-PeerBridge-Timestamp", "0")
        mac = hmac.new(self.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("X-PeerBridge-Signature", ""), f"sha256={mac}") \
                or abs(time.time() - int(ts)) > 300:
            rec.refused = "signature"
            return 401, {"error": "bad signature"}
        return 200, {}


def vapid_key(directory: Path) -> tuple[Path, str]:
    """A VAPID private key file (PEM) and its public key as the push endpoint sees it (base64url, uncompressed)."""
    key = ec.generate_private_key(ec.SECP256R1())
    path = directory / "vapid.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    raw = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return path, base64.urlsafe_b64encode(raw).decode().rstrip("=")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, for the SMTP server's STARTTLS."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class SmtpServer:
    """aiosmtpd requiring STARTTLS before AUTH, and AUTH before mail; keeps what it was given."""

    def __init__(self, directory: Path, user: str = "notify", password: str = "smtp-secret"):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        from tests.support.stack import free_port

        self.user, self.password = user, password
        self.messages: list = []
        cert, key = self_signed(directory)
        self.ca_file = cert
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
                outer.messages.append(envelope)
                return "250 OK"

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == outer.user and auth_data.password.decode() == outer.password
            return AuthResult(success=ok)

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, require_starttls=True,
                                     tls_context=context, auth_require_tls=True, authenticator=authenticate,
                                     auth_required=True)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()
