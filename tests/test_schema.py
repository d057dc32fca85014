"""Schemas agree with what they describe: the migrations create exactly the columns the Piccolo
tables declare, and the OpenAPI at /schema shows the API's real response shapes and errors."""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from app.db.tables import TABLES
from tests.conftest import http_client


async def test_every_table_column_exists_after_migrating(database_url: str) -> None:
    for table in TABLES:
        rows = await table.raw(
            "SELECT column_name FROM information_schema.columns WHERE table_name = {}",
            table._meta.tablename,
        )
        in_database = {row["column_name"] for row in rows}
        declared = {column._meta.db_column_name for column in table._meta.columns}
        assert declared == in_database, table._meta.tablename


async def test_the_openapi_shows_typed_responses_and_every_error_an_operation_answers(
    app: Litestar, database_url: str
) -> None:
    async with http_client(app) as client:
        schema = (await client.get("/schema/openapi.json")).json()

    def responses(method: str, path: str) -> dict[str, Any]:
        found: dict[str, Any] = schema["paths"][path][method]["responses"]
        return found

    start = responses("post", "/api/workflows/executions/start")
    assert start["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StartExecutionResponse"
    }
    started = schema["components"]["schemas"]["StartExecutionResponse"]["properties"]
    assert {"execution_id", "workflow_id", "status", "timeline_url"} <= set(started)
    assert {"400", "401", "403", "404"} <= set(start)
    approve = responses("post", "/api/workflows/executions/{execution_id}/steps/{step_id}/approve")
    assert {"401", "403", "404", "409", "422"} <= set(approve)
    assert approve["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    listed = responses("get", "/api/workflows/executions")["200"]["content"]["application/json"]
    assert listed["schema"]["items"] == {"$ref": "#/components/schemas/ListedExecution"}
    row = schema["components"]["schemas"]["ListedExecution"]["properties"]
    assert row["waiting"] == {"type": "boolean"} and "timeline_url" in row
    assert "503" in responses("get", "/health")
    # The timeline page is documented only for the JSON it answers when asked for JSON.
    page = responses("get", "/executions/{execution_id}")["200"]["content"]
    assert list(page) == ["application/json"]
    assert "/executions" not in schema["paths"], "HTML pages are not the API"
