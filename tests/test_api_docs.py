"""The API docs at /schema render from this server's own files: no CDN, so they work offline."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

from litestar import Litestar
from playwright.async_api import Browser, Route, expect

from app.settings import Settings
from app.web.app import create_app
from tests.conftest import http_client

ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def linked_urls(html: str) -> list[str]:
    """Every src= and href= in a page: the scripts, style sheets and icon it loads."""
    return re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def docs_pages(app: Litestar) -> list[str]:
    return sorted(
        route.path
        for route in app.routes
        if route.path.startswith("/schema") and "{" not in route.path
    )


async def assert_docs_use_only_local_assets(app: Litestar, prefix: str) -> None:
    async with http_client(app) as client:
        html_pages = 0
        for page in docs_pages(app):
            response = await client.get(page)
            assert response.status_code == 200, page
            if not response.headers["content-type"].startswith("text/html"):
                continue  # the document itself, as JSON or YAML
            html_pages += 1
            for url in linked_urls(response.text):
                parts = urlsplit(url)
                assert not parts.scheme and not parts.netloc, f"{page} loads {url} from elsewhere"
                assert url.startswith(f"{prefix}/static/vendor/"), f"{page} links {url}"
                # The proxy strips the prefix before the request reaches the app.
                asset = await client.get(url.removeprefix(prefix))
                assert asset.status_code == 200, f"{url} (linked from {page}) is not served"
                assert asset.content, url
                kind = ASSET_TYPES[url[url.rfind(".") :]]
                assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])
            assert "fonts.googleapis" not in response.text
        # /schema, /schema/swagger and Swagger's oauth2-redirect.html
        assert html_pages == 3, docs_pages(app)
        swagger = await client.get("/schema")
        scripts = [url for url in linked_urls(swagger.text) if url.endswith(".js")]
        assert len(scripts) == 2, scripts  # the bundle and the standalone preset


async def test_schema_pages_load_every_asset_from_this_server(app: Litestar) -> None:
    await assert_docs_use_only_local_assets(app, prefix="")


async def test_schema_pages_link_their_assets_under_the_path_prefix(settings: Settings) -> None:
    prefixed = create_app(replace(settings, path_prefix="/stepladder"))
    await assert_docs_use_only_local_assets(prefixed, prefix="/stepladder")
    async with http_client(prefixed) as client:
        document = (await client.get("/schema/openapi.json")).json()
    # Swagger's "Try it out" calls the API through the proxy's sub-path.
    assert document["servers"] == [{"url": "/stepladder"}]


async def test_litestars_cdn_pages_are_not_served(app: Litestar) -> None:
    async with http_client(app) as client:
        for page in ("/schema/redoc", "/schema/elements", "/schema/rapidoc"):
            assert (await client.get(page)).status_code == 404, page


async def test_openapi_document_is_served_as_json_and_yaml(app: Litestar) -> None:
    async with http_client(app) as client:
        as_json = await client.get("/schema/openapi.json")
        as_yaml = await client.get("/schema/openapi.yaml")
    assert as_json.status_code == 200 and as_json.json()["info"]["title"] == "Stepladder"
    assert "/api/workflows/executions/start" in as_json.json()["paths"]
    assert as_yaml.status_code == 200 and "/api/workflows/executions/start:" in as_yaml.text


async def test_api_docs_render_in_a_browser_that_cannot_reach_other_hosts(
    browser: Browser, web_server: str
) -> None:
    own_host = urlsplit(web_server).netloc
    elsewhere: list[str] = []

    async def only_this_server(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own_host:
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort("internetdisconnected")

    context = await browser.new_context(base_url=web_server)
    await context.route("**/*", only_this_server)
    page = await context.new_page()
    try:
        await page.goto("/schema")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Stepladder")
        start = page.locator(".opblock-summary-path", has_text="/api/workflows/executions/start")
        await start.click()  # the operation opens, drawn by the bundle's scripts
        await expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    finally:
        await context.close()
    assert elsewhere == [], f"the docs tried to load {elsewhere}"
