"""The HTTP edge every service shares: API docs served from the service itself."""
from __future__ import annotations

import re

import httpx
import pytest

from services.billing.app import create_app as billing
from services.intake.app import create_app as intake
from services.pairing.app import create_app as pairing
from services.referral.app import create_app as referral

pytestmark = pytest.mark.unit
APPS = {"intake": intake, "pairing": pairing, "referral": referral, "billing": billing}


def _client(name: str) -> httpx.AsyncClient:
    """The service's app in-process, not started: documentation needs neither database nor broker."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=APPS[name]()), base_url="http://service")


@pytest.mark.parametrize("name", APPS)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_api_docs_load_without_internet(name, page):
    async with _client(name) as client:
        html = await client.get(page)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert not re.search(r"(https?:)?//[\w.-]+\.\w", html.text), "the page names an outside host"
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']|(?:url|spec-url)[:=]\s*["']([^"']+)["']""", html.text)
        referenced = [a or b for a, b in assets]
        assert any(a.endswith(".js") for a in referenced), referenced
        for asset in referenced:
            answer = await client.get(asset)
            assert answer.status_code == 200 and answer.content, asset
