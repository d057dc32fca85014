"""Safety policies: the `policy:` rules parsed and refused at load (naming the file and the
rule), one rule's evaluation against a value (max, daily_max, allowlists, deny_prefix), and the
daily sum PostgreSQL answers (the calendar day in the rule's zone; completed steps only)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.db.policies import PolicyStore
from app.db.tables import StepRun
from app.definitions.loader import load_definitions
from app.domain.definitions import DefinitionError, parse_definition
from app.domain.policies import PolicyCheck, PolicyRule, evaluate
from app.settings import Settings, SettingsError
from app.temporal.actions import ACTION_NAMES
from tests.test_definitions import REPO_ROOT, onboarding


def with_policy(policy: Any) -> dict[str, Any]:
    raw = copy.deepcopy(onboarding())
    raw["policy"] = policy
    return raw


def test_rules_parse_with_their_checks_and_defaults() -> None:
    definition = parse_definition(
        with_policy([
            {"id": "max_credit", "step": "create_crm_record", "field": "credit_limit",
             "max": 5000, "on_breach": "require_approval"},
            {"id": "known_domains", "field": "email", "allow_domains": ["example.com"]},
            {"id": "daily", "field": "credit_limit", "daily_max": 20000,
             "time_zone": "Europe/Paris"},
        ]),
        "onboarding.yaml",
        ACTION_NAMES,
    )  # fmt: skip
    first, second, third = definition.policy
    assert first.max == 5000 and first.forces_approval and first.step == "create_crm_record"
    assert second.on_breach == "deny" and second.allow_domains == ["example.com"]
    assert third.daily_max == 20000 and third.time_zone == "Europe/Paris"
    assert first.applies_to("create_crm_record", {}) and not first.applies_to("x", {"credit": 1})
    assert second.applies_to("validate_email", {"email": "a@b.c"})
    assert not second.applies_to("setup_billing_account", {"tier": "premium"})


def test_a_definition_without_policy_keeps_its_version_hash() -> None:
    plain = parse_definition(onboarding(), "x.yaml", ACTION_NAMES)
    ruled = parse_definition(
        with_policy([{"id": "r", "field": "email", "allow_domains": ["a.com"]}]),
        "x.yaml",
        ACTION_NAMES,
    )
    assert plain.policy == [] and plain.version_hash != ruled.version_hash
    assert parse_definition(with_policy([]), "x.yaml", ACTION_NAMES).version_hash == (
        plain.version_hash
    )


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ({"id": "r"}, "policy must be a list of rules"),
        ([{"field": "email", "max": 1}], "every policy rule needs an id"),
        ([{"id": "r", "field": "email", "max": 1, "colour": "red"}],
         "policy rule 'r': unknown key(s) colour"),
        ([{"id": "r", "field": "email"}], "policy rule 'r': no check"),
        ([{"id": "r", "max": 1}], "policy rule 'r': missing 'field'"),
        ([{"id": "r", "step": "ghost", "field": "email", "max": 1}],
         "policy rule 'r': step 'ghost' does not exist"),
        ([{"id": "r", "field": "email", "max": 1}, {"id": "r", "field": "tier", "max": 2}],
         "policy rule 'r': duplicate rule id"),
        ([{"id": "r", "field": "email", "max": 1, "on_breach": "shrug"}],
         "on_breach must be deny or require_approval"),
        ([{"id": "r", "field": "email", "max": "lots"}], "max must be a number"),
        ([{"id": "r", "field": "email", "allow": "a@b.c"}], "allow must be a list"),
        ([{"id": "r", "field": "x", "daily_max": 5, "time_zone": "Mars/Olympus"}],
         "time_zone 'Mars/Olympus' is not an IANA time zone"),
    ],
)  # fmt: skip
def test_bad_rules_are_refused_at_load_naming_file_and_rule(policy: Any, problem: str) -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_definition(with_policy(policy), "onboarding.yaml", ACTION_NAMES)
    assert str(refused.value).startswith("onboarding.yaml: ")
    assert problem in str(refused.value)


def test_a_maximum_amount_names_rule_field_value_and_limit() -> None:
    rule = PolicyRule(id="max_payment", field="amount", max=5000)
    breach = evaluate(rule, 9000)
    assert not breach.passed and breach.action == "deny"
    assert breach.message == "max_payment: amount 9,000 is above 5,000"
    assert breach.limit == "max 5,000"
    assert evaluate(rule, "4999.50").passed
    assert evaluate(rule, 5000).passed
    assert not evaluate(rule, "a lot").passed  # not an amount: never passes a maximum
    assert not evaluate(rule, None).passed


def test_a_daily_maximum_adds_the_days_earlier_amounts() -> None:
    rule = PolicyRule(id="daily_spend", field="amount", daily_max=20000,
                      on_breach="require_approval")  # fmt: skip
    assert evaluate(rule, 5000, Decimal(15000)).passed
    breach = evaluate(rule, 5001, Decimal(15000))
    assert not breach.passed and breach.action == "require_approval"
    assert "above the daily 20,000" in breach.message and "15,000 before" in breach.message


def test_allowlists_of_exact_values_and_email_domains() -> None:
    phones = PolicyRule(id="known_phones", field="phone", allow=["+15550100", "+15550101"])
    assert evaluate(phones, "+15550101").passed
    assert evaluate(phones, "+15550199").message == (
        "known_phones: phone +15550199 is not one of +15550100, +15550101"
    )
    domains = PolicyRule(id="known_domains", field="email",
                         allow_domains=["example.com", "example.org"])  # fmt: skip
    assert evaluate(domains, "Ada@Example.ORG").passed
    assert not evaluate(domains, "ada@evil.example.net").passed
    assert not evaluate(domains, "ada@example.com.evil.net").passed


def test_a_denied_prefix_is_case_insensitive() -> None:
    rule = PolicyRule(id="no_forbidden", field="task", deny_prefix="forbidden")
    assert not evaluate(rule, "Forbidden: drop the database").passed
    assert "begins with 'forbidden'" in evaluate(rule, "forbidden thing").message
    assert evaluate(rule, "a forbidden-free task").passed


def test_the_shipped_policy_check_definition_is_json_with_a_deny_prefix_rule() -> None:
    definition = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)["policy_check"]
    [rule] = definition.policy
    assert (rule.step, rule.field, rule.deny_prefix, rule.on_breach) == (
        "check_task", "task", "forbidden", "deny",
    )  # fmt: skip
    assert [s.id for s in definition.steps] == ["check_task", "approve_task", "run_task"]
    assert definition.step("approve_task").default_mode == "validation_required"


def test_the_default_zone_of_daily_limits_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().policy_time_zone == "UTC"
    monkeypatch.setenv("STEPLADDER_POLICY_TIME_ZONE", "Europe/Paris")
    assert Settings.from_env().policy_time_zone == "Europe/Paris"
    monkeypatch.setenv("STEPLADDER_POLICY_TIME_ZONE", "Paris")
    with pytest.raises(SettingsError, match="STEPLADDER_POLICY_TIME_ZONE must be an IANA"):
        Settings.from_env()


async def _checked(execution_id: str, at: datetime, value: int, step_status: str) -> None:
    check = PolicyCheck("daily", "amount", value, "daily max 1,000", passed=True)
    await PolicyStore().record(execution_id, "pay", "charge", [check], at)
    await StepRun.insert(
        StepRun(run_key=f"{execution_id}/charge", execution_id=execution_id, workflow_id="pay",
                step_id="charge", mode="always_auto", status=step_status, started_at=at,
                ended_at=at, summary="", error="")
    )  # fmt: skip


async def test_the_daily_sum_counts_completed_steps_of_the_zones_calendar_day(
    database_url: str,
) -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    # 23:30 UTC the day before is 00:30 in Paris: today there, yesterday in UTC.
    await _checked("late-evening", datetime(2026, 11, 29, 23, 30, tzinfo=UTC), 300, "completed")
    await _checked("this-morning", datetime(2026, 11, 30, 8, 0, tzinfo=UTC), 200, "completed")
    await _checked("rejected", datetime(2026, 11, 30, 9, 0, tzinfo=UTC), 5000, "rejected")
    await _checked("yesterday", datetime(2026, 11, 29, 10, 0, tzinfo=UTC), 7000, "completed")
    store = PolicyStore()
    assert await store.counted_today("pay", "daily", "Europe/Paris", now, "new") == 500
    assert await store.counted_today("pay", "daily", "UTC", now, "new") == 200
    assert await store.counted_today("pay", "daily", "UTC", now, "this-morning") == 0
    assert await store.counted_today("other", "daily", "UTC", now, "new") == 0
    assert await store.counted_today("pay", "other_rule", "UTC", now, "new") == 0
