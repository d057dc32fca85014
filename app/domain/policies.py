"""Safety policies: a definition's `policy:` rules, their validation at load, and the evaluation
of one rule against a step's rendered params (pure: the daily sum is read by the caller).

A rule names a `field` (a key of the step's rendered params), optionally a `step`, and one or
more checks: `max` (a per-value maximum amount), `allow` (exact values), `allow_domains` (the
domain of an email address), `deny_prefix` (case-insensitive) and `daily_max` (the values of
this workflow's executions today, in `time_zone`, plus this one). On a breach the rule's
`on_breach` says what happens: `deny` (the execution stops as policy_denied) or
`require_approval` (the step waits for approval whatever its mode).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CHECKS = ("max", "daily_max", "allow", "allow_domains", "deny_prefix")
RULE_KEYS = {"id", "step", "field", "on_breach", "time_zone", *CHECKS}


class OnBreach(StrEnum):
    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"


@dataclass(frozen=True)
class PolicyRule:
    """One `policy:` entry. Amounts (`max`, `daily_max`) are numbers; `time_zone` "" means the
    default zone (settings, else UTC) for the daily window."""

    id: str
    field: str
    step: str = ""
    on_breach: str = OnBreach.DENY.value
    max: float | None = None
    daily_max: float | None = None
    allow: list[str] = dataclasses.field(default_factory=list)
    allow_domains: list[str] = dataclasses.field(default_factory=list)
    deny_prefix: str = ""
    time_zone: str = ""

    def applies_to(self, step_id: str, params: Mapping[str, Any]) -> bool:
        """Whether this rule checks that step: its own `step`, else every step whose rendered
        params have the rule's field."""
        if self.step:
            return self.step == step_id
        return self.field in params

    @property
    def forces_approval(self) -> bool:
        return self.on_breach == OnBreach.REQUIRE_APPROVAL

    @property
    def limits(self) -> str:
        """The rule's checks in words ("max 5,000; daily max 20,000"), as pages list them."""
        return evaluate(self, None).limit


@dataclass
class PolicyCheck:
    """One rule's check of one step run: what was compared and the result. `action` is what the
    breach did ("deny" / "require_approval"), "" when it passed."""

    rule: str
    field: str
    value: Any
    limit: str
    passed: bool
    action: str = ""
    message: str = ""


def amount(value: Any) -> Decimal | None:
    """`value` as a number (ints, floats, numeric strings like "9000" or "9,000.50"); None when it
    is not one."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return None


def _shown(number: Decimal | float) -> str:
    number = Decimal(str(number))
    return f"{number:,.0f}" if number == number.to_integral_value() else f"{number:,.2f}"


def evaluate(rule: PolicyRule, value: Any, spent_today: Decimal = Decimal(0)) -> PolicyCheck:
    """Check `value` (the step's rendered params[rule.field]) against every check of `rule`;
    `spent_today` is the sum of this workflow's counted values for the rule today (daily_max).
    Breaches are named with rule, field, value and limit ("max_payment: amount 9,000 is above
    5,000"); several are joined with "; "."""
    number = amount(value)
    numeric = rule.max is not None or rule.daily_max is not None
    shown = "(missing)" if value is None else value
    label = f"{rule.id}: {rule.field} {_shown(number) if numeric and number is not None else shown}"
    found = [
        found
        for check in (_max, _daily_max, _allow, _allow_domains, _deny_prefix)
        if (found := check(rule, value, number, label, spent_today)) is not None
    ]
    limits = [limit for limit, _ in found]
    breaches = [breach for _, breach in found if breach]
    passed = not breaches
    return PolicyCheck(
        rule=rule.id,
        field=rule.field,
        value=value,
        limit="; ".join(limits),
        passed=passed,
        action="" if passed else rule.on_breach,
        message=f"{label} passes" if passed else "; ".join(breaches),
    )


# One check of a rule: (its limit in words, the breach in words or "") — None when the rule
# does not use that check.
_Found = tuple[str, str] | None


def _max(rule: PolicyRule, value: Any, number: Decimal | None, label: str, _: Decimal) -> _Found:
    if rule.max is None:
        return None
    breached = number is None or number > Decimal(str(rule.max))
    return f"max {_shown(rule.max)}", _above(label, number, _shown(rule.max)) if breached else ""


def _daily_max(
    rule: PolicyRule, value: Any, number: Decimal | None, label: str, spent: Decimal
) -> _Found:
    if rule.daily_max is None:
        return None
    limit = f"daily max {_shown(rule.daily_max)}"
    total = None if number is None else spent + number
    if total is not None and total <= Decimal(str(rule.daily_max)):
        return limit, ""
    today = f" (today {_shown(total)} with {_shown(spent)} before)" if total else ""
    return limit, _above(label, number, f"the daily {_shown(rule.daily_max)}") + today


def _allow(rule: PolicyRule, value: Any, number: Decimal | None, label: str, _: Decimal) -> _Found:
    if not rule.allow:
        return None
    allowed = ", ".join(rule.allow)
    return f"one of {allowed}", "" if str(
        value
    ) in rule.allow else f"{label} is not one of {allowed}"


def _allow_domains(
    rule: PolicyRule, value: Any, number: Decimal | None, label: str, _: Decimal
) -> _Found:
    if not rule.allow_domains:
        return None
    domains = " or ".join(rule.allow_domains)
    known = str(value).rpartition("@")[2].strip().lower() in {d.lower() for d in rule.allow_domains}
    return f"domain {domains}", "" if known else f"{label} is not in {domains}"


def _deny_prefix(
    rule: PolicyRule, value: Any, number: Decimal | None, label: str, _: Decimal
) -> _Found:
    if not rule.deny_prefix:
        return None
    begins = value is not None and str(value).strip().lower().startswith(rule.deny_prefix.lower())
    breach = f"{label} begins with {rule.deny_prefix!r}" if begins else ""
    return f"not beginning with {rule.deny_prefix!r}", breach


def _above(label: str, number: Decimal | None, limit: str) -> str:
    if number is None:
        return f"{label} is not an amount (limit {limit})"
    return f"{label} is above {limit}"


def parse_policies(
    raw: Any, step_ids: Collection[str], fail: Callable[[str], Exception]
) -> list[PolicyRule]:
    """The `policy:` list, validated: ids required and unique, known keys only, at least one
    check, a known step, numeric limits, a known on_breach and time zone. Raises what `fail`
    makes of the problem (naming the rule)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise fail("policy must be a list of rules")
    rules: list[PolicyRule] = []
    for item in raw:
        rule = _rule(item, step_ids, {r.id for r in rules}, fail)
        rules.append(rule)
    return rules


def _rule(
    item: Any, step_ids: Collection[str], seen: set[str], fail: Callable[[str], Exception]
) -> PolicyRule:
    if not isinstance(item, dict) or not item.get("id"):
        raise fail("every policy rule needs an id")
    rule_id = str(item["id"])
    problem = _shape_problem(item, step_ids, rule_id in seen) or _value_problem(item)
    if problem:
        raise fail(f"policy rule {rule_id!r}: {problem}")
    return PolicyRule(
        id=rule_id,
        field=str(item["field"]),
        step=str(item.get("step") or ""),
        on_breach=str(item.get("on_breach") or OnBreach.DENY.value),
        max=None if item.get("max") is None else float(item["max"]),
        daily_max=None if item.get("daily_max") is None else float(item["daily_max"]),
        allow=[str(v) for v in item.get("allow") or []],
        allow_domains=[str(v) for v in item.get("allow_domains") or []],
        deny_prefix=str(item.get("deny_prefix") or ""),
        time_zone=str(item.get("time_zone") or ""),
    )


def _shape_problem(item: dict[str, Any], step_ids: Collection[str], duplicate: bool) -> str:
    """What is wrong with the rule's keys, id, field, checks or step ("" if nothing)."""
    unknown = set(item) - RULE_KEYS
    if unknown:
        return f"unknown key(s) {', '.join(sorted(unknown))}"
    if duplicate:
        return "duplicate rule id"
    if not item.get("field"):
        return "missing 'field' (a key of the step's params)"
    if not any(item.get(check) not in (None, "", []) for check in CHECKS):
        return f"no check: give one of {', '.join(CHECKS)}"
    if item.get("step") and item["step"] not in step_ids:
        return f"step {item['step']!r} does not exist"
    return ""


def _value_problem(item: dict[str, Any]) -> str:
    """What is wrong with the rule's values: on_breach, amounts, lists, zone ("" if nothing)."""
    if item.get("on_breach", OnBreach.DENY) not in OnBreach.__members__.values():
        return "on_breach must be deny or require_approval"
    for key in ("max", "daily_max"):
        if key in item and amount(item[key]) is None:
            return f"{key} must be a number"
    for key in ("allow", "allow_domains"):
        if key in item and not isinstance(item[key], list):
            return f"{key} must be a list"
    zone = str(item.get("time_zone") or "")
    if zone and not known_zone(zone):
        return f"time_zone {zone!r} is not an IANA time zone (like UTC or Europe/Paris)"
    return ""


def known_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
