"""Step configuration and analytics pages and their JSON API, against PostgreSQL and Temporal."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import partial
from typing import Any

import httpx
import pytest
from temporalio.worker import Worker

from app.db.tables import FaultInjection, ModeChangeEvent, StepConfig
from app.definitions.loader import load_definitions
from app.settings import REPO_ROOT, Settings
from app.steps.seeding import seed_step_configs
from app.temporal.actions import ACTION_NAMES
from app.web.app import create_app
from tests import test_promotion_service as promotion_tests
from tests.conftest import api_headers, http_client, signed_in

HTML = {"accept": "text/html"}
HTMX = {**HTML, "hx-request": "true"}
DEFINITIONS = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)
STEPS = "/workflows/customer_onboarding/steps"
# The promotion tests' helpers, on the onboarding these pages show.
add_runs = partial(promotion_tests.add_runs, workflow_id="customer_onboarding")
back_date = partial(promotion_tests.back_date, workflow_id="customer_onboarding")
API = "/api/workflows/customer_onboarding/steps"


@pytest.fixture
async def seeded(database_url: str) -> None:
    await seed_step_configs(DEFINITIONS.values())


def csrf_token(page: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', page)
    assert match, "page has no CSRF field"
    return match.group(1)


def section(page: str, step_id: str) -> str:
    """One step's section of the configuration page."""
    start = page.index(f'id="step-{step_id}"')
    end = page.find('<section class="card step-config"', start)
    return page[start : end if end > 0 else None]


def form_fields(page: str, step_id: str) -> dict[str, str]:
    """What the browser would post from a step's form as it is shown."""
    html = section(page, step_id)
    fields = {"_csrf_token": csrf_token(page)}
    for name, value in re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html):
        if name != "auto_promote":
            fields[name] = value
    if re.search(r'name="auto_promote"[^>]*checked', html):
        fields["auto_promote"] = "on"
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]+)"\s+selected', options)
        assert chosen, f"{name} has no selected option"
        fields[name] = chosen.group(1)
    return fields


async def config_page(client: httpx.AsyncClient) -> str:
    page = await client.get(STEPS, headers=HTML)
    assert page.status_code == 200, page.text
    return page.text


# --- the configuration page ----------------------------------------------------------------------


@pytest.mark.parametrize("user", ["vera", "bob"])
async def test_only_admins_open_the_configuration_page(
    client: httpx.AsyncClient, settings: Settings, seeded: None, user: str
) -> None:
    signed_in(client, settings, user)
    page = await client.get(STEPS, headers=HTML)
    assert page.status_code == 403
    assert "Editing step configuration needs the admin role" in page.text
    assert "<form" not in page.text.split("<main")[1].split("</main>")[0]


async def test_each_step_offers_only_the_modes_on_its_impacts_path(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "ada")
    page = await config_page(client)
    expected = {
        "validate_email": ["always_auto"],
        "check_duplicates": ["auto_monitored", "always_auto"],
        "create_crm_record": ["validation_required", "auto_monitored", "always_auto"],
        "setup_billing_account": ["always_manual", "validation_required", "auto_monitored"],
    }
    for step_id, modes in expected.items():
        html = section(page, step_id)
        mode_select = re.search(r'name="mode".*?</select>', html, re.S)
        assert mode_select is not None
        assert re.findall(r'<option value="([^"]+)"', mode_select.group(0)) == modes
    crm = section(page, "create_crm_record")
    # Defaults as placeholders, labels on every input, progress beside the form.
    assert 'placeholder="200"' in crm and 'placeholder="98"' in crm
    for name in ("impact", "mode", "reason", "min_success_rate", "demotion_window"):
        assert f'<label for="{name}-create_crm_record">' in crm
    assert "0 / 200 ✗" in crm and "Not ready for Monitored" in crm


async def test_an_admin_saves_a_mode_with_a_reason_and_the_change_is_audited(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "ada")
    fields = form_fields(await config_page(client), "create_crm_record")
    fields.update(mode="always_auto", reason="reviewed 300 runs", min_successful_runs="120")

    response = await client.post(
        f"{STEPS}/create_crm_record/config", data=fields, headers=HTML, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"{STEPS}?saved=create_crm_record#step-create_crm_record"
    row = await StepConfig.objects().get(StepConfig.step_id == "create_crm_record")
    assert row is not None and (row.mode, row.updated_by) == ("always_auto", "ada")
    event = await ModeChangeEvent.objects().first()
    assert event is not None
    assert (event.from_mode, event.to_mode, event.kind, event.changed_by, event.reason) == (
        "validation_required", "always_auto", "manual", "ada", "reviewed 300 runs",
    )  # fmt: skip
    page = await client.get(response.headers["location"].split("#")[0], headers=HTML)
    saved = section(page.text, "create_crm_record")
    assert 'role="status">Saved. Create CRM Record is now in Auto' in saved
    assert 'value="120"' in saved


async def test_bad_values_are_shown_beside_their_fields_and_nothing_is_saved(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "ada")
    fields = form_fields(await config_page(client), "create_crm_record")
    fields.update(
        mode="auto_monitored", min_success_rate="101", demotion_window="0",
        min_days_in_mode="soon",
    )  # fmt: skip

    response = await client.post(f"{STEPS}/create_crm_record/config", data=fields, headers=HTML)

    assert response.status_code == 422
    html = section(response.text, "create_crm_record")
    assert 'id="e-create_crm_record-min_days_in_mode">min days in mode must be a number' in html
    # The entered values stay in their fields.
    assert 'value="soon"' in html and 'value="101"' in html
    fields["min_days_in_mode"] = "3"
    response = await client.post(f"{STEPS}/create_crm_record/config", data=fields, headers=HTML)
    html = section(response.text, "create_crm_record")
    assert response.status_code == 422
    assert 'id="e-create_crm_record-min_success_rate">min_success_rate must be a percentage' in html
    assert (
        'id="e-create_crm_record-demotion_window">demotion_window must be a whole number ≥ 1'
        in html
    )
    assert 'id="e-create_crm_record-reason">say why the mode changes' in html
    assert 'aria-invalid="true" aria-describedby="e-create_crm_record-reason"' in html
    row = await StepConfig.objects().get(StepConfig.step_id == "create_crm_record")
    assert row is not None and (row.mode, row.version) == ("validation_required", 1)


async def test_a_mode_off_the_path_is_refused(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "ada")
    fields = form_fields(await config_page(client), "setup_billing_account")
    fields.update(mode="always_auto", reason="fast")  # a hand-made post: never offered
    response = await client.post(f"{STEPS}/setup_billing_account/config", data=fields, headers=HTML)
    assert response.status_code == 422
    assert "always_auto is not allowed for a critical step; allowed: always_manual," in (
        section(response.text, "setup_billing_account")
    )


async def test_two_admins_saving_the_same_step_the_second_sees_the_current_values(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "ada")
    page = await config_page(client)  # both admins load the page at version 1
    first = form_fields(page, "check_duplicates")
    second = form_fields(page, "check_duplicates")
    first.update(min_successful_runs="40")
    response = await client.post(
        f"{STEPS}/check_duplicates/config", data=first, headers=HTML, follow_redirects=True
    )
    assert response.status_code == 200

    second.update(demotion_window="10", auto_promote="")
    response = await client.post(f"{STEPS}/check_duplicates/config", data=second, headers=HTML)

    assert response.status_code == 409
    html = section(response.text, "check_duplicates")
    assert "ada changed this step while you were editing; here are the current values" in html
    current = html.split('class="current-values"')[1].split("</dl>")[0]
    assert "<dt>Min successful runs</dt><dd>40</dd>" in current
    # The second admin's entries are kept; the form now carries the current version.
    assert 'name="demotion_window" type="text" inputmode="decimal" value="10"' in html
    assert 'name="min_successful_runs" type="text" inputmode="decimal" value=""' in html
    assert 'name="version" value="2"' in html
    row = await StepConfig.objects().get(StepConfig.step_id == "check_duplicates")
    assert row is not None and row.criteria in (
        {"min_successful_runs": 40},
        '{"min_successful_runs": 40}',
    )

    # Saving again, knowingly, applies the second admin's values.
    again = form_fields(response.text, "check_duplicates")
    response = await client.post(
        f"{STEPS}/check_duplicates/config", data=again, headers=HTML, follow_redirects=True
    )
    assert response.status_code == 200
    row = await StepConfig.objects().get(StepConfig.step_id == "check_duplicates")
    assert row is not None and row.auto_promote is False and row.version == 3


async def test_with_htmx_a_save_swaps_only_the_steps_section(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "ada")
    fields = form_fields(await config_page(client), "check_duplicates")
    fields["min_consecutive_successes"] = "5"
    response = await client.post(f"{STEPS}/check_duplicates/config", data=fields, headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith("{#") is False
    assert '<section class="card step-config" id="step-check_duplicates"' in response.text
    assert "<html" not in response.text and "Saved." in response.text

    # The swapped section carries the new version, as the browser's next post will.
    fields = {
        **form_fields(response.text, "check_duplicates"),
        "_csrf_token": fields["_csrf_token"],
    }
    fields["min_consecutive_successes"] = "-1"
    response = await client.post(f"{STEPS}/check_duplicates/config", data=fields, headers=HTMX)
    assert response.status_code == 422 and "<html" not in response.text
    assert "min_consecutive_successes must be a whole number ≥ 0" in response.text


async def test_changing_the_impact_redraws_the_mode_list_for_its_path(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "ada")
    response = await client.get(
        f"{STEPS}/check_duplicates/form",
        params={"impact": "critical", "mode": "auto_monitored", "min_success_rate": "99"},
        headers=HTMX,
    )
    assert response.status_code == 200
    modes = re.search(r'name="mode".*?</select>', response.text, re.S)
    assert modes is not None
    assert re.findall(r'<option value="([^"]+)"', modes.group(0)) == [
        "always_manual", "validation_required", "auto_monitored",
    ]  # fmt: skip
    assert 'placeholder="500"' in response.text and 'value="99"' in response.text
    row = await StepConfig.objects().get(StepConfig.step_id == "check_duplicates")
    assert row is not None and row.impact == "read", "redrawing saves nothing"


# --- the analytics page ---------------------------------------------------------------------------


async def test_a_viewer_sees_progress_charts_and_history_but_no_forms(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    await back_date("check_duplicates")
    await add_runs(
        "check_duplicates", "auto_monitored", ["completed"] * 3 + ["failed", "completed"]
    )
    signed_in(client, settings, "vera")

    page = await client.get(f"{STEPS}/check_duplicates", headers=HTML)

    assert page.status_code == 200
    text = page.text
    assert "4 / 100 ✗" in text and "80.0% / 98.0% ✗" in text and "1 / 25 ✗" in text
    assert '<svg class="chart rate-chart"' in text and '<svg class="chart days-chart"' in text
    assert '<title id="rate-title">Success rate over the last 20 runs</title>' in text
    assert "5 counted runs from" in text  # the chart's <desc>
    assert "No mode changes yet" in text
    assert (
        "Change the mode by hand" not in text
        and '<form method="post" action' not in text.split("<main")[1]
    )


async def test_without_runs_the_charts_give_way_to_an_empty_state(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "vera")
    page = await client.get(f"{STEPS}/send_welcome_email", headers=HTML)
    assert page.status_code == 200
    assert '<svg class="chart' not in page.text and "No counted runs yet" in page.text
    assert "always_auto is the ceiling of the accessory path" in page.text


async def test_an_admin_changes_the_mode_by_hand_with_a_reason(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "ada")
    page = await client.get(f"{STEPS}/setup_billing_account", headers=HTML)
    token = csrf_token(page.text)

    missing = await client.post(
        f"{STEPS}/setup_billing_account/mode",
        data={"_csrf_token": token, "to_mode": "validation_required", "reason": " "},
        headers=HTML,
    )
    assert missing.status_code == 422 and 'id="e-mode-reason">say why' in missing.text

    response = await client.post(
        f"{STEPS}/setup_billing_account/mode",
        data={"_csrf_token": token, "to_mode": "validation_required", "reason": "audited twice"},
        headers=HTML,
        follow_redirects=True,
    )
    assert response.status_code == 200
    history = response.text.split('id="mode-history"')[1]
    assert 'data-kind="manual" data-to="validation_required"' in history
    assert "audited twice" in history and '<td data-label="By">ada</td>' in history


@pytest.mark.parametrize(
    "path", [f"{STEPS}/nope", "/workflows/nope/steps/check_duplicates", "/workflows/nope/steps"]
)
async def test_unknown_workflows_and_steps_are_404(
    client: httpx.AsyncClient, settings: Settings, seeded: None, path: str
) -> None:
    signed_in(client, settings, "ada")
    assert (await client.get(path, headers=HTML)).status_code == 404


# --- JSON API --------------------------------------------------------------------------------------


async def test_analytics_json_has_the_original_shape(
    client: httpx.AsyncClient, seeded: None
) -> None:
    await back_date("check_duplicates")
    await add_runs("check_duplicates", "auto_monitored", ["completed", "completed", "failed"])
    response = await client.get(f"{API}/check_duplicates/analytics", headers=api_headers("vera"))
    assert response.status_code == 200
    body = response.json()
    original = [
        "step_id", "step_name", "current_mode", "metrics", "promotion_ready",
        "criteria_progress", "estimated_promotion_in_days",
    ]  # fmt: skip
    assert list(body)[: len(original)] == original
    assert (body["step_id"], body["step_name"], body["current_mode"]) == (
        "check_duplicates", "Check Duplicates", "auto_monitored",
    )  # fmt: skip
    assert {k: body["metrics"][k] for k in ("total_runs", "consecutive_successes")} == {
        "total_runs": 3,
        "consecutive_successes": 0,
    }
    assert body["metrics"]["success_rate"] == pytest.approx(200 / 3)
    assert body["promotion_ready"] is False
    progress = body["criteria_progress"]
    assert progress["min_successful_runs"] == {
        "label": "min successful runs", "current": 2, "required": 100, "met": False,
        "display": "2 / 100 ✗",
    }  # fmt: skip
    assert progress["min_success_rate"]["display"] == "66.6% / 98.0% ✗"
    assert body["estimated_promotion_in_days"] is None or body["estimated_promotion_in_days"] > 0


async def test_unknown_ids_are_json_404s(client: httpx.AsyncClient, seeded: None) -> None:
    for path in (f"{API}/nope/analytics", "/api/workflows/nope/steps/check_duplicates/analytics"):
        response = await client.get(path, headers=api_headers("vera"))
        assert response.status_code == 404
        assert set(response.json()) >= {"status_code", "detail"}


async def test_promote_endpoint_takes_one_hop_for_admins_only(
    client: httpx.AsyncClient, seeded: None
) -> None:
    path = f"{API}/create_crm_record/promote"
    refused = await client.post(path, headers=api_headers("bob"))
    assert refused.status_code == 403
    assert "needs the admin role" in refused.json()["detail"]

    response = await client.post(path, headers=api_headers("ada"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from_mode"], body["to_mode"], body["current_mode"]) == (
        "validation_required", "auto_monitored", "auto_monitored",
    )  # fmt: skip

    response = await client.post(
        path, headers=api_headers("ada"), json={"to_mode": "always_auto", "reason": "solid"}
    )
    assert response.status_code == 200 and response.json()["reason"] == "solid"

    at_ceiling = await client.post(path, headers=api_headers("ada"))
    assert at_ceiling.status_code == 422
    body = at_ceiling.json()
    assert body["detail"].startswith("always_auto is the top of the write path")
    assert "to_mode" in body["extra"]["errors"]

    off_path = await client.post(
        f"{API}/setup_billing_account/promote",
        headers=api_headers("ada"),
        json={"to_mode": "always_auto"},
    )
    assert off_path.status_code == 422
    demoted = await client.post(f"{API}/create_crm_record/demote", headers=api_headers("ada"))
    assert demoted.status_code == 200 and demoted.json()["to_mode"] == "auto_monitored"
    changes = await client.get(
        "/api/workflows/customer_onboarding/mode-changes", headers=api_headers("vera")
    )
    assert [(c["step_id"], c["to_mode"], c["kind"]) for c in changes.json()] == [
        ("create_crm_record", "auto_monitored", "manual"),
        ("create_crm_record", "always_auto", "manual"),
        ("create_crm_record", "auto_monitored", "manual"),
    ]
    # Paged, newest first: a page of two, then the rest from the last id of the first page.
    every = [c["id"] for c in changes.json()]
    first = await client.get(
        "/api/workflows/customer_onboarding/mode-changes?limit=2", headers=api_headers("vera")
    )
    assert [c["id"] for c in first.json()] == every[:2]
    rest = await client.get(
        f"/api/workflows/customer_onboarding/mode-changes?limit=2&before_id={every[1]}",
        headers=api_headers("vera"),
    )
    assert [c["id"] for c in rest.json()] == every[2:]
    newer = await client.get(
        f"/api/workflows/customer_onboarding/mode-changes?after_id={every[1]}",
        headers=api_headers("vera"),
    )
    assert [c["id"] for c in newer.json()] == every[:1]
    too_many = await client.get(
        "/api/workflows/customer_onboarding/mode-changes?limit=501", headers=api_headers("vera")
    )
    assert too_many.status_code == 400 and "limit" in too_many.text


async def test_put_config_checks_version_values_and_role(
    client: httpx.AsyncClient, seeded: None
) -> None:
    path = f"{API}/check_duplicates"
    current = (await client.get(path, headers=api_headers("vera"))).json()
    assert (current["version"], current["allowed_modes"]) == (1, ["auto_monitored", "always_auto"])
    assert current["effective_criteria"]["min_successful_runs"] == 100

    forbidden = await client.put(path, headers=api_headers("bob"), json={"version": 1})
    assert forbidden.status_code == 403

    saved = await client.put(
        path, headers=api_headers("ada"),
        json={"version": 1, "criteria": {"min_successful_runs": 10}, "auto_promote": False},
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    body: dict[str, Any] = saved.json()
    assert (body["version"], body["criteria"], body["auto_promote"]) == (
        2, {"min_successful_runs": 10}, False,
    )  # fmt: skip
    assert body["effective_criteria"]["min_successful_runs"] == 10

    stale = await client.put(path, headers=api_headers("ada"), json={"version": 1, "mode": "x"})
    assert stale.status_code == 409
    assert stale.json()["detail"].startswith("ada changed this step while you were editing")
    assert stale.json()["extra"]["current"]["version"] == 2

    invalid = await client.put(
        path, headers=api_headers("ada"),
        json={"version": 2, "mode": "validation_required", "criteria": {"min_success_rate": -1}},
    )  # fmt: skip
    assert invalid.status_code == 422
    assert set(invalid.json()["extra"]["errors"]) == {"mode", "min_success_rate"}


async def test_fault_injection_is_for_admins_and_shown_on_the_step(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    path = f"{API}/check_duplicates/fault-injection"
    assert (
        await client.put(path, headers=api_headers("bob"), json={"failure_rate": 0.5})
    ).status_code == 403
    too_much = await client.put(path, headers=api_headers("ada"), json={"failure_rate": 1.5})
    assert too_much.status_code == 422
    assert (
        await client.put(path, headers=api_headers("ada"), json={"failure_rate": 0.3})
    ).status_code == 200

    signed_in(client, settings, "vera")
    page = await client.get(f"{STEPS}/check_duplicates", headers=HTML)
    assert "Fault injection is on: 30% of this step" in page.text
    analytics = await client.get(f"{API}/check_duplicates/analytics", headers=api_headers("vera"))
    assert analytics.json()["fault_injection"] == {"failure_rate": 0.3}

    assert (await client.delete(path, headers=api_headers("ada"))).status_code == 204
    page = await client.get(f"{STEPS}/check_duplicates", headers=HTML)
    assert "Fault injection is on" not in page.text


async def test_fault_injection_is_refused_where_it_is_off(
    settings: Settings, worker: Worker, seeded: None
) -> None:
    production_like = create_app(replace(settings, fault_injection=False))
    async with http_client(production_like) as client:
        path = f"{API}/check_duplicates/fault-injection"
        refused = await client.put(path, headers=api_headers("ada"), json={"failure_rate": 0.3})
        assert refused.status_code == 403
        assert "fault injection is off on this deployment" in refused.json()["detail"]
        assert "FAULT_INJECTION=on" in refused.json()["detail"]
        # Clearing stays possible (an injection left from before the switch went off).
        assert (await client.delete(path, headers=api_headers("ada"))).status_code == 204
    assert await FaultInjection.count() == 0


async def test_the_workflow_page_leads_to_each_steps_analytics_and_admins_to_the_form(
    client: httpx.AsyncClient, settings: Settings, seeded: None
) -> None:
    signed_in(client, settings, "vera")
    page = await client.get("/workflows/customer_onboarding", headers=HTML)
    assert f'href="{STEPS}/check_duplicates"' in page.text
    assert f'href="{STEPS}"' not in page.text
    signed_in(client, settings, "ada")
    page = await client.get("/workflows/customer_onboarding", headers=HTML)
    assert f'href="{STEPS}">Configure the steps</a>' in page.text


async def test_the_openapi_shows_each_steps_operation_with_its_shape_and_errors(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/schema/openapi.json")).json()
    operations = {
        (method.upper(), path): op
        for path, ops in schema["paths"].items()
        if path.startswith("/api/workflows/{workflow_id}/")
        for method, op in ops.items()
        if "steps" in op.get("tags", [])  # the workflow's schedules and lifecycle are not steps'
    }
    assert len(operations) == 9, sorted(operations)
    for (method, path), op in operations.items():
        responses = op["responses"]
        success = min(code for code in responses if code.startswith("2"))
        if success != "204":
            body = responses[success]["content"]["application/json"]["schema"]
            assert "$ref" in body or "$ref" in body.get("items", {}), (method, path, body)
        declared = {"400", "401", "404"} | (
            {"403"} if method in ("PUT", "POST", "DELETE") else set()
        )
        for code in declared:
            error = responses[code]["content"]["application/json"]["schema"]
            assert error["$ref"].endswith("/ErrorBody"), (method, path, code)
    assert "409" in operations[("PUT", "/api/workflows/{workflow_id}/steps/{step_id}")]["responses"]
    shapes = schema["components"]["schemas"]
    analytics = shapes["StepAnalyticsResponse"]["properties"]
    assert list(analytics)[:4] == ["step_id", "step_name", "current_mode", "metrics"]
    assert analytics["metrics"]["$ref"].endswith("/StepMetricsBody")
    assert set(shapes["DeploymentMode"]["enum"]) >= {"always_auto", "always_manual"}
