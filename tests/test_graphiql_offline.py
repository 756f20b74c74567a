"""GraphiQL works on a network without internet: the page names no external address, and every
script and style it loads is served by the platform with the digest the page pins (SRI)."""

from __future__ import annotations

import base64
import hashlib
import re

SRC = re.compile(r'(?:src|href)="([^"]+)"')
INTEGRITY = re.compile(r'(?:src|href)="([^"]+)"\s+integrity="sha384-([^"]+)"')


async def _page(client) -> str:
    r = await client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    return r.text


async def test_the_page_loads_nothing_from_another_host(client):
    html = await _page(client)
    addresses = [a for a in SRC.findall(html) if not a.startswith("data:")]
    assert addresses, "the page loads its scripts and styles"
    for address in addresses:
        assert address.startswith("/static/graphiql/"), address
    assert "unpkg" not in html and "jsdelivr" not in html and "cdn" not in html.lower()


async def test_every_asset_is_served_with_the_digest_the_page_pins(client):
    html = await _page(client)
    pinned = INTEGRITY.findall(html)
    assert len(pinned) == 7  # react, react-dom, js-cookie, graphiql js+css, explorer js+css
    for address, digest in pinned:
        r = await client.get(address)
        assert r.status_code == 200, address
        assert base64.b64encode(hashlib.sha384(r.content).digest()).decode() == digest, address


async def test_the_example_query_is_the_readme_lookup_in_chinese(client):
    html = await _page(client)
    assert "公共信用信息共享平台" in html
    assert 'subject(key: "91130902MA0DEM0135"' in html


async def test_an_unknown_asset_is_not_found(client):
    r = await client.get("/static/graphiql/../../config.py")
    assert r.status_code == 404
