"""Definition loading and validation: bad files are refused with file, step and problem named."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.definitions.loader import load_definitions
from app.domain.definitions import (
    DefinitionError,
    normalise_input,
    parse_definition,
    validate_input,
)
from app.domain.modes import DeploymentMode
from app.settings import REPO_ROOT
from app.temporal.actions import ACTION_NAMES

ONBOARDING = yaml.safe_load((REPO_ROOT / "definitions" / "customer_onboarding.yaml").read_text())


def onboarding() -> dict[str, Any]:
    raw: dict[str, Any] = copy.deepcopy(ONBOARDING)
    return raw


def test_customer_onboarding_loads_with_the_spec_steps_and_default_modes() -> None:
    definitions = load_definitions(REPO_ROOT / "definitions", ACTION_NAMES)
    d = definitions["customer_onboarding"]
    assert [(s.id, s.action, s.impact, s.default_mode) for s in d.steps] == [
        ("validate_email", "validate_email", "accessory", DeploymentMode.ALWAYS_AUTO),
        ("check_duplicates", "check_duplicates", "read", DeploymentMode.AUTO_MONITORED),
        ("create_crm_record", "create_crm_record", "write", DeploymentMode.VALIDATION_REQUIRED),
        (
            "setup_billing_account",
            "setup_billing_account",
            "critical",
            DeploymentMode.ALWAYS_MANUAL,
        ),
        ("send_welcome_email", "send_email", "accessory", DeploymentMode.ALWAYS_AUTO),
    ]
    assert [f.name for f in d.inputs] == ["name", "email", "tier"]
    assert len(d.version_hash) == 16


def test_unknown_action_is_refused_naming_file_step_and_action() -> None:
    raw = onboarding()
    raw["steps"][2]["action"] = "create_crm_recrod"
    with pytest.raises(DefinitionError) as refused:
        parse_definition(raw, "onboarding.yaml", ACTION_NAMES)
    message = str(refused.value)
    assert "onboarding.yaml" in message
    assert "create_crm_record" in message  # the step id
    assert "unknown action 'create_crm_recrod'" in message


def test_template_variable_naming_a_missing_input_field_is_refused() -> None:
    raw = onboarding()
    raw["steps"][0]["params"]["email"] = "{{ input.e_mail }}"
    with pytest.raises(DefinitionError, match=r"step 'validate_email'.*input.e_mail"):
        parse_definition(raw, "x.yaml", ACTION_NAMES)


def test_template_may_only_read_earlier_steps() -> None:
    raw = onboarding()
    raw["steps"][1]["params"]["email"] = "{{ steps.send_welcome_email.result.to }}"
    with pytest.raises(DefinitionError, match="not an earlier step"):
        parse_definition(raw, "x.yaml", ACTION_NAMES)


def test_unknown_template_root_and_unknown_step_key_are_refused() -> None:
    raw = onboarding()
    raw["steps"][0]["params"]["email"] = "{{ secrets.password }}"
    with pytest.raises(DefinitionError, match="'secrets.password' is unknown"):
        parse_definition(raw, "x.yaml", ACTION_NAMES)
    raw = onboarding()
    raw["steps"][0]["retries"] = 3
    with pytest.raises(DefinitionError, match="unknown key.*retries"):
        parse_definition(raw, "x.yaml", ACTION_NAMES)


def test_mode_off_the_impact_path_is_refused() -> None:
    raw = onboarding()
    raw["steps"][3]["mode"] = "always_auto"  # critical steps never run fully automatic
    with pytest.raises(DefinitionError, match="not on the critical path"):
        parse_definition(raw, "x.yaml", ACTION_NAMES)


def test_version_hash_changes_with_content() -> None:
    first = parse_definition(onboarding(), "x.yaml", ACTION_NAMES)
    raw = onboarding()
    raw["steps"][4]["params"]["subject"] = "Hello"
    second = parse_definition(raw, "x.yaml", ACTION_NAMES)
    assert first.version_hash == parse_definition(onboarding(), "y.yaml", ACTION_NAMES).version_hash
    assert first.version_hash != second.version_hash


def test_invalid_yaml_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("id: [unclosed")
    with pytest.raises(DefinitionError, match="broken.yaml: not valid YAML"):
        load_definitions(tmp_path, ACTION_NAMES)


def test_input_validation_names_each_bad_field_and_defaults_apply() -> None:
    d = parse_definition(onboarding(), "x.yaml", ACTION_NAMES)
    errors = validate_input(d, {"name": "", "email": "not-an-email", "tier": "gold", "x": 1})
    assert errors == {
        "name": "Full name is required",
        "email": "Email must be an email address like name@example.com",
        "tier": "Tier must be one of basic, premium, enterprise",
        "x": "'x' is not an input of customer_onboarding",
    }
    good = {"name": " Jo ", "email": "jo@example.com"}
    assert validate_input(d, good) == {}
    assert normalise_input(d, good) == {"name": "Jo", "email": "jo@example.com", "tier": "basic"}
