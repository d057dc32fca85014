"""The OpenAPI document and its pages at /schema, drawn with assets served from /static/vendor."""

from __future__ import annotations

from html import escape

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, Reference, SecurityScheme, Server

from app.settings import Settings

SWAGGER_UI = "/static/vendor/swagger-ui"
"""Where scripts/vendor_static.sh installs the pinned Swagger UI files."""


SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    "bearerToken": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="slt_…",
        description="An API token (`Authorization: Bearer <token>`) an admin created on "
        "/admin/tokens or with `stepladder token create`; accepted in every auth mode.",
    ),
    "devUser": SecurityScheme(
        type="apiKey",
        name="X-Stepladder-User",
        security_scheme_in="header",
        description="Development only (AUTH_MODE=dev): names a demo user (ada, bob, carol, vera). "
        "Ignored in proxy mode, where a request without a token answers 401.",
    ),
}
"""How API clients say who they are; every operation accepts either."""


def openapi_config(settings: Settings) -> OpenAPIConfig:
    """/schema (Swagger UI, also at /schema/swagger) and the document itself (/schema/openapi.json,
    .yaml). Every asset is a same-origin link under PATH_PREFIX, so the page renders on a machine
    without internet and behind a proxy serving a sub-path. Litestar's other pages (Redoc,
    Elements, RapiDoc) are left out: they load from CDNs, and Redoc's bundle fetches its logo."""
    prefix = settings.path_prefix

    def url(path: str) -> str:
        return escape(f"{prefix}{path}", quote=True)

    # Litestar's default favicon would come from a CDN.
    favicon = f"<link rel='icon' type='image/png' href='{url(SWAGGER_UI + '/favicon-32x32.png')}'>"
    return OpenAPIConfig(
        title="Stepladder",
        version="0.1.0",
        path="/schema",
        # "Try it out" sends requests here: the proxy's sub-path, which it strips.
        servers=[Server(url=prefix or "/")],
        components=Components(security_schemes=SECURITY_SCHEMES),
        security=[{"bearerToken": []}, {"devUser": []}],
        render_plugins=[
            SwaggerRenderPlugin(
                path=["/", "/swagger"],
                js_url=url(f"{SWAGGER_UI}/swagger-ui-bundle.js"),
                css_url=url(f"{SWAGGER_UI}/swagger-ui.css"),
                standalone_preset_js_url=url(f"{SWAGGER_UI}/swagger-ui-standalone-preset.js"),
                favicon=favicon,
            ),
            YamlRenderPlugin(),
        ],
    )
