"""The parallel timeline without JavaScript: an app whose definitions folder holds a JSON
definition with depends_on shows the steps of one level in an "In parallel" group, two
decision forms at once; posting one (post/redirect/get) leaves the other waiting."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from app.definitions.loader import load_definitions
from app.domain.identity import DEMO_USERS
from app.settings import Settings
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES
from app.web.app import create_app
from tests.conftest import api_headers, http_client, signed_in
from tests.helpers import Engine, eventually, finished, waiting_at
from tests.test_parallel_browser import PARALLEL_GATES
from tests.test_web import HTML, csrf_token


async def test_two_decision_forms_side_by_side_and_one_posted_without_javascript(
    settings: Settings, temporal_client: Client, worker: Worker, tmp_path: Path
) -> None:
    (tmp_path / "parallel_gates.json").write_text(json.dumps(PARALLEL_GATES, indent=2))
    definitions = load_definitions(tmp_path, ACTION_NAMES)
    await seed_step_configs(definitions.values())
    app = create_app(replace(settings, definitions_dir=tmp_path, start_rate_limit=None))
    async with http_client(app) as client:
        started = await client.post(
            "/api/workflows/executions/start", headers=api_headers("bob"),
            json={"workflow_id": "parallel_gates", "workflow_data": {"email": "p@example.com"}},
        )  # fmt: skip
        assert started.status_code == 201, started.text
        execution_id = started.json()["execution_id"]
        engine = Engine(temporal_client, definitions, settings.task_queue)
        await waiting_at(engine, execution_id, "crm")
        await waiting_at(engine, execution_id, "billing")

        signed_in(client, settings, "carol")
        page = await client.get(f"/executions/{execution_id}", headers=HTML)
        assert 'class="step-group parallel"' in page.text and "In parallel" in page.text
        assert page.text.count('class="decision-form"') == 2
        assert "1/4 steps completed" in page.text
        posted = await client.post(
            f"/executions/{execution_id}/steps/billing/decision",
            data={"_csrf_token": csrf_token(page.text), "action": "approved"},
            headers=HTML, follow_redirects=False,
        )  # fmt: skip
        assert posted.status_code == 303
        timeline = await eventually(
            lambda: engine.timeline(execution_id),
            lambda t: {s.id: s.status for s in t.steps}["billing"] == "completed",
        )
        assert {s.id: s.status for s in timeline.steps}["crm"] == "waiting_approval"
        after = await client.get(f"/executions/{execution_id}", headers=HTML)
        assert after.text.count('class="decision-form"') == 1
        assert "2/4 steps completed" in after.text
        # The JSON API's timeline carries the groups.
        api = await client.get(f"/api/workflows/executions/{execution_id}",
                               headers=api_headers("vera"))  # fmt: skip
        assert api.json()["groups"] == [["welcome"], ["crm", "billing"], ["done"]]
        await engine.decide(execution_id, "crm", DEMO_USERS["bob"], "approved")
        assert (await finished(engine, execution_id)).status == "completed"
