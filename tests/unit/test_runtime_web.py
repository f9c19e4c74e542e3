"""The HTTP edge every service shares: API docs served from the service itself, over-deep JSON found without parsing."""
from __future__ import annotations

import json
import re

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.billing.app import create_app as billing
from services.intake.app import create_app as intake
from services.pairing.app import create_app as pairing
from services.referral.app import create_app as referral
from services.runtime.web import nested_deeper_than

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


def _nested(depth: int) -> bytes:
    value: object = 1
    for n in range(depth):
        value = [value] if n % 2 else {"k": value}
    return json.dumps(value).encode()


@pytest.mark.parametrize("depth", [1, 17, 64])
def test_json_up_to_the_limit_is_not_too_deep(depth):
    assert not nested_deeper_than(_nested(depth), 64)


@pytest.mark.parametrize("body", [_nested(65), b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000])
def test_json_past_the_limit_is_too_deep(body):
    assert nested_deeper_than(body, 64)


@given(st.recursive(st.none() | st.integers() | st.text(alphabet='[]{}"\\ab:,'),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text('[]{}"\\'), inner,
                                                                                  max_size=3)))
def test_brackets_inside_strings_do_not_count(value):
    def depth(v) -> int:
        children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else ()
        return 1 + max(map(depth, children), default=0) if isinstance(v, (dict, list)) else 0
    body = json.dumps(value).encode()
    assert nested_deeper_than(body, 3) == (depth(value) > 3)
