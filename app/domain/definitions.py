"""Workflow definitions: the declarative YAML format, its validation, and its version hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from app.domain.approval_inputs import ApprovalInputSpec, parse_approval_inputs

# normalise_input and validate_input are also imported from here (their home before).
from app.domain.definition_inputs import normalise_input as normalise_input
from app.domain.definition_inputs import validate_input as validate_input
from app.domain.modes import DEFAULT_MODE, PROMOTION_PATH, DeploymentMode, ImpactLevel
from app.domain.notifications import NotifySpec, parse_notify
from app.domain.policies import PolicyRule, known_zone, parse_policies
from app.domain.step_graph import ancestors, groups, parse_step_graph, resolve
from app.domain.templating import TemplateProblem, referenced_paths
from app.domain.triggers import ScheduleTrigger, WebhookTrigger, parse_triggers

FIELD_TYPES = ("string", "email", "choice", "integer", "boolean")
# `trigger`: what started the execution (a webhook's `data`, a schedule's input; the input
# itself for form and API starts).
TEMPLATE_ROOTS = ("input", "steps", "execution", "trigger")
ON_TIMEOUT = ("expire", "reject")


class DefinitionError(ValueError):
    """A definition file that cannot be used; the message names file, step and problem."""


@dataclass(frozen=True)
class InputField:
    name: str
    type: str = "string"
    label: str = ""
    required: bool = True
    default: Any = None
    choices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Confirmation:
    label: str
    condition: str = ""


@dataclass(frozen=True)
class RetryPolicySpec:
    maximum_attempts: int = 3
    initial_interval_seconds: float = 1.0
    backoff_coefficient: float = 2.0


@dataclass(frozen=True)
class StepDefinition:
    id: str
    name: str
    action: str
    impact: str
    mode: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    condition: str = ""
    confirmations: list[Confirmation] = field(default_factory=list)
    typed_confirmation: str = ""
    approval_timeout_seconds: int = 1800
    on_timeout: str = "expire"  # "expire" stops the execution as expired; "reject" rejects the step
    retry: RetryPolicySpec = field(default_factory=RetryPolicySpec)
    timeout_seconds: int = 60
    approvers_group: str = ""
    required_approvals: int = 1
    environment: str = "production"
    continue_on_failure: bool = False
    notify: NotifySpec | None = None  # overrides the workflow's `notify:` for this step
    # Fields the approver fills when approving; params read them as `approval.<name>`.
    approval_inputs: list[ApprovalInputSpec] = field(default_factory=list)
    # The steps this one waits for (None: the step before it; []: none, it starts at once).
    depends_on: list[str] | None = None
    # `run: <workflow_id>`: the step runs that definition as a child workflow (instead of an
    # action), its `input:` rendered from this execution's context (app/temporal/children.py).
    run: str = ""
    input: dict[str, Any] = field(default_factory=dict)

    @property
    def default_mode(self) -> DeploymentMode:
        return DeploymentMode(self.mode) if self.mode else DEFAULT_MODE[ImpactLevel(self.impact)]


@dataclass(frozen=True)
class WorkflowDefinition:
    id: str
    name: str
    description: str
    inputs: list[InputField]
    steps: list[StepDefinition]
    version_hash: str = ""
    # The input field that names an execution in lists (e.g. the customer's name); "" for none.
    key_input: str = ""
    schedules: list[ScheduleTrigger] = field(default_factory=list)
    webhooks: list[WebhookTrigger] = field(default_factory=list)
    notify: NotifySpec | None = None  # who hears of waiting steps (app/domain/notifications.py)
    policy: list[PolicyRule] = field(default_factory=list)  # safety rules (domain/policies.py)
    # The definitions its `run:` steps start, by id, each with its own children (filled at load
    # by app/domain/child_runs.py link_children); travels with the definition to the workflow.
    children: dict[str, WorkflowDefinition] = field(default_factory=dict)

    def key_of(self, data: Mapping[str, Any] | None) -> str:
        """The execution's key input as text ("" when the definition declares none)."""
        if not self.key_input or not data:
            return ""
        value = data.get(self.key_input)
        return "" if value is None else str(value)

    def notify_for(self, step: StepDefinition) -> NotifySpec | None:
        """The step's `notify:`, else the workflow's; None when nobody is to be told."""
        return step.notify or self.notify

    @property
    def parallel(self) -> bool:
        """Whether any step declares `depends_on` (then steps may run side by side)."""
        return any(step.depends_on is not None for step in self.steps)

    def step_graph(self) -> dict[str, tuple[str, ...]]:
        """Step id → the step ids it waits for (app/domain/step_graph.py's rule applied)."""
        return resolve([s.id for s in self.steps], {s.id: s.depends_on for s in self.steps})

    def parallel_groups(self) -> list[list[str]]:
        """Step ids level by level when steps run side by side (what the timeline groups);
        empty for a definition without `depends_on`."""
        return groups(self.step_graph()) if self.parallel else []

    def step(self, step_id: str) -> StepDefinition:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


_STEP_KEYS = {f for f in StepDefinition.__dataclass_fields__}
_FIELD_KEYS = {f for f in InputField.__dataclass_fields__}
_TOP_KEYS = {"id", "name", "description", "inputs", "steps", "key_input", "triggers", "notify",
             "policy"}  # fmt: skip


def parse_definition(raw: Any, source: str, actions: Collection[str]) -> WorkflowDefinition:
    """Build and validate a definition from a parsed file (a mapping); `source` names the file
    in messages, `actions` are the registered action names. Raises DefinitionError naming the
    file, the step and the problem."""
    return _Parser(source, actions).definition(raw)


class _Parser:
    """One definition's validation; every refusal names the file and, where it applies, the
    step."""

    def __init__(self, source: str, actions: Collection[str]) -> None:
        self.source = source
        self.actions = actions

    def fail(self, problem: str, step: str = "") -> DefinitionError:
        place = f"{self.source}, step {step!r}" if step else self.source
        return DefinitionError(f"{place}: {problem}")

    def definition(self, raw: Any) -> WorkflowDefinition:
        if not isinstance(raw, dict):
            raise self.fail("the file must hold a mapping with id, name, inputs and steps")
        unknown = set(raw) - _TOP_KEYS
        if unknown:
            raise self.fail(f"unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("id", "name", "steps"):
            if not raw.get(key):
                raise self.fail(f"missing {key!r}")
        inputs = [self.input_field(item) for item in raw.get("inputs") or []]
        input_names = {f.name for f in inputs}
        graph = parse_step_graph(raw["steps"], self.fail)
        steps: list[StepDefinition] = []
        for item in raw["steps"]:
            visible = ancestors(graph, str(item["id"]))  # what its templates may read
            steps.append(self.step(item, input_names, {s.id for s in steps}, visible))
        key_input = str(raw.get("key_input") or "")
        if key_input and key_input not in input_names:
            raise self.fail(f"key_input {key_input!r} is not an input field")
        schedules, webhooks = parse_triggers(raw.get("triggers"), str(raw["id"]), self.fail)
        definition = WorkflowDefinition(
            id=str(raw["id"]),
            name=str(raw["name"]),
            description=str(raw.get("description", "")),
            inputs=inputs,
            steps=steps,
            key_input=key_input,
            schedules=schedules,
            webhooks=webhooks,
            notify=parse_notify(raw.get("notify"), self.fail),
            policy=parse_policies(raw.get("policy"), {s.id for s in steps}, self.fail),
        )
        definition = replace(definition, schedules=self.checked_schedules(definition))
        return replace(definition, version_hash=version_hash(definition))

    def checked_schedules(self, definition: WorkflowDefinition) -> list[ScheduleTrigger]:
        """Each schedule's `input:` validated against the inputs and normalised (defaults,
        types) at load: a Schedule never starts an execution its input would refuse."""
        checked = []
        for schedule in definition.schedules:
            errors = validate_input(definition, schedule.input)
            if not known_zone(schedule.time_zone):
                raise self.fail(
                    f"trigger {schedule.id!r} (schedule): time_zone {schedule.time_zone!r} is not"
                    " an IANA time zone (like UTC or Europe/Paris)"
                )
            if errors:
                problems = "; ".join(errors.values())
                raise self.fail(f"trigger {schedule.id!r} (schedule): input: {problems}")
            checked.append(replace(schedule, input=normalise_input(definition, schedule.input)))
        return checked

    def input_field(self, item: Any) -> InputField:
        if not isinstance(item, dict) or "name" not in item:
            raise self.fail("every input needs a name")
        extra = set(item) - _FIELD_KEYS
        if extra:
            raise self.fail(f"input {item['name']!r} has unknown key(s) {', '.join(sorted(extra))}")
        spec = InputField(**{**item, "label": item.get("label") or item["name"]})
        if spec.type not in FIELD_TYPES:
            raise self.fail(f"input {spec.name!r} has unknown type {spec.type!r}")
        if spec.type == "choice" and not spec.choices:
            raise self.fail(f"input {spec.name!r} is a choice without choices")
        return spec

    def step(
        self, item: Any, input_names: set[str], earlier: set[str], visible: set[str]
    ) -> StepDefinition:
        """One step, validated; its templates may read `steps.<id>` of the `visible` steps
        (those it waits for, directly or not)."""
        step_id = str(item["id"])
        if item.get("run"):
            item = self.child_run(item, step_id)
        self.check_keys(item, step_id, earlier)
        confirmations = [
            Confirmation(**c) if isinstance(c, dict) else Confirmation(label=str(c))
            for c in item.get("confirmations") or []
        ]
        retry = RetryPolicySpec(**(item.get("retry") or {}))

        def fail_here(problem: str) -> DefinitionError:
            return self.fail(problem, step_id)

        step = StepDefinition(
            **{**item, "id": step_id, "confirmations": confirmations, "retry": retry,
               "notify": parse_notify(item.get("notify"), fail_here),
               "approval_inputs": parse_approval_inputs(item.get("approval_inputs"), fail_here)}
        )  # fmt: skip
        self.check_settings(step)
        templates: list[tuple[Any, bool]] = [(step.condition, True), (step.input, False)]
        templates += [(c.condition, True) for c in confirmations if c.condition]
        for value, is_expression in templates:
            _check_references(value, is_expression, input_names, visible, self.fail, step_id)
        self.check_approval_inputs(step, input_names, visible)
        return step

    def check_approval_inputs(
        self, step: StepDefinition, input_names: set[str], earlier: set[str]
    ) -> None:
        """Params may read `approval.<declared input>`; an input's default reads what params do
        (not `approval`); its bounds may also read the proposed `params`."""
        names = {spec.name for spec in step.approval_inputs}
        _check_references(step.params, False, input_names, earlier, self.fail, step.id,
                          extra_roots={"approval": names})  # fmt: skip
        for spec in step.approval_inputs:
            _check_references(spec.default, False, input_names, earlier, self.fail, step.id)
            for bound in (spec.min, spec.max):
                _check_references(bound, False, input_names, earlier, self.fail, step.id,
                                  extra_roots={"params": set(step.params)})  # fmt: skip

    def child_run(self, item: dict[str, Any], step_id: str) -> dict[str, Any]:
        """A `run:` step's keys with its defaults (impact read, no action); whether the workflow
        it names exists is checked once every file is loaded (child_runs.link_children)."""
        if item.get("action"):
            raise self.fail("give either 'action' or 'run' (a child workflow), not both", step_id)
        if not isinstance(item.get("input") or {}, dict):
            raise self.fail("'input' must be a mapping of the child's input fields", step_id)
        return {"impact": "read", **item, "run": str(item["run"]), "action": "",
                "input": item.get("input") or {}}  # fmt: skip

    def check_keys(self, item: dict[str, Any], step_id: str, earlier: set[str]) -> None:
        extra = set(item) - _STEP_KEYS
        if extra:
            raise self.fail(f"unknown key(s) {', '.join(sorted(extra))}", step_id)
        for key in ("name", "impact") if item.get("run") else ("name", "action", "impact"):
            if not item.get(key):
                raise self.fail(f"missing {key!r}", step_id)
        if not item.get("run") and item["action"] not in self.actions:
            raise self.fail(f"unknown action {item['action']!r}", step_id)
        if item["impact"] not in ImpactLevel.__members__.values():
            raise self.fail(f"unknown impact {item['impact']!r}", step_id)
        if step_id in earlier:
            raise self.fail("duplicate step id", step_id)

    def check_settings(self, step: StepDefinition) -> None:
        if step.mode:
            if step.mode not in DeploymentMode.__members__.values():
                raise self.fail(f"unknown mode {step.mode!r}", step.id)
            if step.default_mode not in PROMOTION_PATH[ImpactLevel(step.impact)]:
                raise self.fail(f"mode {step.mode!r} is not on the {step.impact} path", step.id)
        if step.on_timeout not in ON_TIMEOUT:
            raise self.fail(f"on_timeout must be one of {', '.join(ON_TIMEOUT)}", step.id)
        if step.approval_timeout_seconds <= 0 or step.required_approvals < 1:
            raise self.fail(
                "approval_timeout_seconds and required_approvals must be positive", step.id
            )


def _check_references(
    value: Any,
    is_expression: bool,
    input_names: set[str],
    earlier_steps: set[str],
    fail: Any,
    step_id: str,
    extra_roots: Mapping[str, Collection[str]] | None = None,
) -> None:
    """Every variable `value` reads is known: an input field, an earlier step, `execution`,
    `trigger`, or a name under one of `extra_roots` (root → the names allowed under it)."""
    if value in ("", None) or isinstance(value, (int, float)):
        return
    extra_roots = extra_roots or {}
    try:
        paths = list(referenced_paths(value, is_expression=is_expression))
    except TemplateProblem as exc:
        raise fail(f"bad template {exc}", step_id) from None
    for path in paths:
        root = path[0]
        if root in extra_roots:
            if len(path) < 2 or path[1] not in extra_roots[root]:
                raise fail(f"template variable {'.'.join(path)!r} is not declared", step_id)
            continue
        if root not in TEMPLATE_ROOTS:
            raise fail(f"template variable {'.'.join(path)!r} is unknown", step_id)
        if root == "input" and (len(path) < 2 or path[1] not in input_names):
            raise fail(f"template variable {'.'.join(path)!r} is not an input field", step_id)
        if root == "steps" and (len(path) < 2 or path[1] not in earlier_steps):
            raise fail(
                f"template variable {'.'.join(path)!r} is not an earlier step "
                "(one this step waits for, directly or through depends_on)",
                step_id,
            )


def version_hash(definition: WorkflowDefinition) -> str:
    content = asdict(definition)
    content.pop("version_hash", None)
    if not content["policy"]:  # hashes of definitions without policy stay as they were
        del content["policy"]
    content.pop("children", None)  # a child's own hash changes with its file
    for step in content["steps"]:  # hashes of definitions without these keys stay as they were
        if step["depends_on"] is None:
            del step["depends_on"]
        for key in ("run", "input"):
            if not step[key]:
                del step[key]
    canonical = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
