"""`GET /metrics`: Litestar's Prometheus controller and HTTP middleware, with the product metrics
read first and an optional bearer token (METRICS_TOKEN) for scrapers."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotAuthorizedException
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from app.observability.metrics import PRODUCT
from app.settings import Settings

# Per route template (/executions/{execution_id}), never per raw path: bounded label values.
HTTP_METRICS = PrometheusConfig(
    app_name="stepladder",
    prefix="stepladder_http",
    group_path=True,
    exclude=["^/metrics", "^/static"],
)


class MetricsController(PrometheusController):
    """Prometheus text format: HTTP, live hub, product and process metrics of this process."""

    include_in_schema = False

    @get(opt={"exclude_from_auth": True}, include_in_schema=False)
    async def get(self, request: Request[Any, Any, Any]) -> Response[Any]:
        settings: Settings = request.app.state.settings
        if settings.metrics_token:
            sent = request.headers.get("authorization", "")
            expected = f"Bearer {settings.metrics_token}"
            if not hmac.compare_digest(sent.encode(), expected.encode()):
                raise NotAuthorizedException("/metrics needs Authorization: Bearer <METRICS_TOKEN>")
        await PRODUCT.refresh(settings.metrics_timeout)
        return await super().get.fn(self)  # type: ignore[no-any-return]
