"""GraphiQL in a real browser with every other host unreachable: Debian's Chromium driven by
Playwright opens the page of a running server, runs the README's lookup with a token and shows
the subject. Skipped, with the reason, where Chromium or Playwright is not installed
(`.ci/run` installs both)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.conftest import token
from tests.test_ingestion_crash import Server

CHROMIUM = os.environ.get("CREDIT_TEST_CHROMIUM") or shutil.which("chromium")
playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")
pytestmark = pytest.mark.skipif(not CHROMIUM, reason="no Chromium (apt-get install chromium)")

QUERY = """query {
  subject(key: "91130902MA0DEM0135", purpose: "government_procurement") {
    key name records { item { code } }
  }
}"""


async def test_graphiql_answers_the_readme_query_with_no_other_host_reachable(dsn, settings, state, tmp_path):
    server = Server(dsn, tmp_path / "data")
    try:
        await server.ready()
        headers = json.dumps({"Authorization": f"Bearer {token(settings, 'state_organ')}"})
        url = f"{server.url}/graphql?q={quote(QUERY)}&headers={quote(headers)}"
        elsewhere: list[str] = []
        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = await browser.new_page(viewport={"width": 1400, "height": 900})

            async def only_this_server(route):
                if urlsplit(route.request.url).netloc == f"127.0.0.1:{server.port}" or route.request.url.startswith("data:"):
                    await route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    await route.abort()

            await page.route("**/*", only_this_server)
            await page.goto(url)
            await page.locator(".graphiql-execute-button").click(timeout=30_000)
            result = page.locator(".result-window")
            await result.get_by_text('"91130902MA0DEM0135"').wait_for(timeout=30_000)
            text = await result.inner_text()
            shot = Path(os.environ.get("CREDIT_GRAPHIQL_SCREENSHOT", tmp_path / "graphiql.png"))
            await page.screenshot(path=str(shot))
            await browser.close()
        assert elsewhere == [], f"the page tried to load from another host: {elsewhere}"
        assert '"records"' in text and '"errors"' not in text
    finally:
        server.kill()
