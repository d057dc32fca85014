"""`stepladder simulate`: real executions driven through the JSON API by an approving bot, with
failures injected into a step's real activity, to watch that step get promoted and demoted."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from app.domain.statuses import ExecutionStatus, StepStatus

# (method, path, acting user, JSON body or None) → (HTTP status, decoded JSON body or None)
ApiCall = Callable[[str, str, str, Any], Awaitable[tuple[int, Any]]]
USER_HEADER = "X-Stepladder-User"
FINISHED = tuple(status for status in ExecutionStatus if status.finished)


class SimulationError(RuntimeError):
    """The simulation cannot go on; the message is one line for the console."""


@dataclass(frozen=True)
class SimulationPlan:
    workflow_id: str
    runs: int
    failure_rate: float = 0.0
    fault_step: str = ""
    reject_rate: float = 0.0
    starter: str = "bob"
    # Approve as someone other than the starter (four eyes on critical steps); more than one
    # for steps that need several distinct approvals.
    approvers: tuple[str, ...] = ("carol", "ada")
    admin: str = "ada"
    run_timeout: float = 120.0
    poll_interval: float = 0.1
    seed: int | None = None

    def problems(self) -> list[str]:
        found = []
        if self.runs < 1:
            found.append(f"--runs must be at least 1, got {self.runs}")
        for name, rate in (
            ("--failure-rate", self.failure_rate),
            ("--reject-rate", self.reject_rate),
        ):
            if not 0.0 <= rate <= 1.0:
                found.append(f"{name} must be between 0 and 1, got {rate}")
        if self.failure_rate and not self.fault_step:
            found.append("--failure-rate needs --step: which step's action should fail")
        if self.starter in self.approvers:
            found.append(f"the starter {self.starter!r} cannot also approve (four eyes)")
        return found


@dataclass
class RunResult:
    number: int
    execution_id: str
    status: str
    steps: dict[str, tuple[str, str]] = field(default_factory=dict)  # step → (status, mode)
    decisions: list[str] = field(default_factory=list)


@dataclass
class SimulationResult:
    runs: list[RunResult]
    mode_changes: list[dict[str, Any]]

    def count(self, status: str) -> int:
        return sum(1 for run in self.runs if run.status == status)


def _fake_value(spec: dict[str, Any], number: int, token: str, rng: random.Random) -> Any:
    kind = spec.get("type", "string")
    if kind == "email":
        return f"sim-{token}-{number}@example.com"
    if kind == "choice" and spec.get("choices"):
        return rng.choice(spec["choices"])
    if kind == "integer":
        return spec.get("default") if spec.get("default") is not None else 1
    if kind == "boolean":
        return bool(spec.get("default", False))
    return f"Simulated {spec.get('label') or spec['name']} {number}"


class Simulation:
    def __init__(self, api: ApiCall, plan: SimulationPlan, say: Callable[[str], None]) -> None:
        self.api = api
        self.plan = plan
        self.say = say
        self.rng = random.Random(plan.seed)
        self.token = uuid.uuid4().hex[:6]
        self.workflow = quote(plan.workflow_id)

    async def _call(self, method: str, path: str, user: str, body: Any = None) -> Any:
        status, answer = await self.api(method, path, user, body)
        while status == 429:  # the start rate limit (issue 13): wait out its window, go on
            extra = answer.get("extra", {}) if isinstance(answer, dict) else {}
            await asyncio.sleep(float(extra.get("retry_after_seconds", 5)))
            status, answer = await self.api(method, path, user, body)
        if status >= 400:
            detail = answer.get("detail") if isinstance(answer, dict) else answer
            raise SimulationError(f"{method} {path} answered {status}: {detail}")
        return answer

    async def run(self) -> SimulationResult:
        problems = self.plan.problems()
        if problems:
            raise SimulationError("; ".join(problems))
        definition = await self._definition()
        step_ids = [step["id"] for step in definition["steps"]]
        if self.plan.fault_step and self.plan.fault_step not in step_ids:
            raise SimulationError(
                f"workflow {self.plan.workflow_id!r} has no step {self.plan.fault_step!r};"
                f" steps: {', '.join(step_ids)}"
            )
        changes_path = f"/api/workflows/{self.workflow}/mode-changes"
        before = await self._call("GET", changes_path, self.plan.admin)
        last_change = max((change["id"] for change in before), default=0)
        fault_path = (
            f"/api/workflows/{self.workflow}/steps/{quote(self.plan.fault_step)}/fault-injection"
        )
        if self.plan.failure_rate:
            await self._call(
                "PUT", fault_path, self.plan.admin, {"failure_rate": self.plan.failure_rate}
            )
            self.say(
                f"fault injection: {self.plan.failure_rate:.0%} of {self.plan.fault_step}"
                " runs will fail"
            )
        results: list[RunResult] = []
        seen_changes: list[dict[str, Any]] = []
        try:
            for number in range(1, self.plan.runs + 1):
                result = await self._one_run(number, definition)
                results.append(result)
                self.say(self._describe(result))
                new = await self._call(
                    "GET", f"{changes_path}?after_id={last_change}", self.plan.admin
                )
                for change in reversed(new):
                    self.say("  " + describe_change(change))
                    seen_changes.append(change)
                    last_change = max(last_change, change["id"])
        finally:
            if self.plan.failure_rate:
                await self._call("DELETE", fault_path, self.plan.admin)
                self.say(f"fault injection on {self.plan.fault_step} cleared")
        outcome = SimulationResult(results, seen_changes)
        summary = ", ".join(
            f"{outcome.count(status)} {status}" for status in FINISHED if outcome.count(status)
        )
        self.say(f"{len(results)} runs: {summary}")
        if seen_changes:
            self.say("mode changes during the simulation:")
            for change in seen_changes:
                self.say("  " + describe_change(change))
        else:
            self.say("no mode changes during the simulation")
        return outcome

    async def _definition(self) -> dict[str, Any]:
        definitions = await self._call("GET", "/api/workflows/", self.plan.starter)
        for definition in definitions:
            if definition["id"] == self.plan.workflow_id:
                result: dict[str, Any] = definition
                return result
        known = ", ".join(d["id"] for d in definitions) or "none"
        raise SimulationError(
            f"no workflow definition named {self.plan.workflow_id!r}; loaded: {known}"
        )

    async def _one_run(self, number: int, definition: dict[str, Any]) -> RunResult:
        data = {
            spec["name"]: _fake_value(spec, number, self.token, self.rng)
            for spec in definition.get("inputs", [])
        }
        started = await self._call(
            "POST",
            "/api/workflows/executions/start",
            self.plan.starter,
            {"workflow_id": self.plan.workflow_id, "workflow_data": data},
        )
        execution_id = started["execution_id"]
        result = RunResult(number, execution_id, ExecutionStatus.RUNNING)
        timeline_path = f"/api/workflows/executions/{quote(execution_id)}"
        approvals_given: dict[str, set[str]] = {}
        deadline = time.monotonic() + self.plan.run_timeout
        while True:
            timeline = await self._call("GET", timeline_path, self.plan.starter)
            if timeline["status"] in FINISHED:
                result.status = timeline["status"]
                result.steps = {
                    s["id"]: (s["status"], s.get("mode") or "") for s in timeline["steps"]
                }
                return result
            for step in timeline["steps"]:
                if step["status"] == StepStatus.WAITING_APPROVAL:
                    await self._decide(execution_id, step, approvals_given, result)
            if time.monotonic() > deadline:
                raise SimulationError(
                    f"{execution_id} still {timeline['status']} after {self.plan.run_timeout:.0f}s"
                )
            await asyncio.sleep(self.plan.poll_interval)

    async def _decide(
        self,
        execution_id: str,
        step: dict[str, Any],
        approvals_given: dict[str, set[str]],
        result: RunResult,
    ) -> None:
        """Approve as the next approver who has not yet (ticking every box, typing the phrase),
        or, at the reject rate, reject — a rejection counts as the step's failure."""
        given = approvals_given.setdefault(step["id"], set())
        base = f"/api/workflows/executions/{quote(execution_id)}/steps/{quote(step['id'])}"
        approval = step.get("approval") or {}
        started_by = approval.get("started_by") or self.plan.starter
        candidates = [a for a in self.plan.approvers if a not in given and a != started_by]
        if not candidates:
            raise SimulationError(
                f"{execution_id}: {step['id']} needs more approvers than"
                f" {', '.join(self.plan.approvers)}"
            )
        approver = candidates[0]
        given.add(approver)
        if not given - {approver} and self.rng.random() < self.plan.reject_rate:
            body: dict[str, Any] = {"reason": "simulated rejection (stepladder simulate)"}
            action = "reject"
        else:
            body = {
                "confirmations": list(approval.get("confirmations") or []),
                "typed_confirmation": approval.get("typed_phrase") or "",
            }
            action = "approve"
        status, answer = await self.api("POST", f"{base}/{action}", approver, body)
        if status == 409:
            return  # no longer waiting (decided, expired): the next poll shows what happened
        if status >= 400:
            detail = answer.get("detail") if isinstance(answer, dict) else answer
            raise SimulationError(
                f"{action} {step['id']} of {execution_id} answered {status}: {detail}"
            )
        done = "approved" if action == "approve" else "rejected"
        result.decisions.append(f"{step['id']} {done} by {approver}")

    def _describe(self, result: RunResult) -> str:
        line = f"run {result.number}/{self.plan.runs} {result.execution_id}: {result.status}"
        watched = self.plan.fault_step
        if watched and watched in result.steps:
            status, mode = result.steps[watched]
            line += f" — {watched} {status}" + (f" in {mode}" if mode else "")
        if result.decisions:
            line += " (" + "; ".join(result.decisions) + ")"
        return line


def describe_change(change: dict[str, Any]) -> str:
    arrow = {"promotion": "↑", "demotion": "↓"}.get(change["kind"], "✎")
    return (
        f"{arrow} {change['step_id']}: {change['from_mode']} → {change['to_mode']}"
        f" ({change['kind']} by {change['changed_by']}: {change['reason']})"
    )


async def simulate(
    api: ApiCall, plan: SimulationPlan, say: Callable[[str], None] = print
) -> SimulationResult:
    return await Simulation(api, plan, say).run()


def http_api(base_url: str, timeout: float = 30.0) -> ApiCall:
    """The running app's JSON API over HTTP (urllib in a thread: no extra dependency)."""
    root = base_url.rstrip("/")

    def request(method: str, path: str, user: str, body: Any) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {USER_HEADER: user, "accept": "application/json"}
        if data is not None:
            headers["content-type"] = "application/json"
        req = urllib.request.Request(root + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, _decode(exc.read())
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SimulationError(f"cannot reach Stepladder at {root}: {reason}") from None

    async def call(method: str, path: str, user: str, body: Any) -> tuple[int, Any]:
        return await asyncio.to_thread(request, method, path, user, body)

    return call


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")[:200]


def simulate_parser() -> argparse.ArgumentParser:
    """The options of `stepladder simulate`."""
    parser = argparse.ArgumentParser(
        prog="stepladder simulate",
        description="Drive real executions through the running app's JSON API with an approving "
        "bot, optionally failing one step's action on purpose, and show the mode changes.",
    )
    parser.add_argument("--workflow", default="customer_onboarding", help="workflow id")
    parser.add_argument("--runs", type=int, default=20, help="executions to run, one after another")
    parser.add_argument("--step", default="", help="the step whose action fails on purpose")
    parser.add_argument("--failure-rate", type=float, default=0.0, help="0-1, with --step")
    parser.add_argument(
        "--reject-rate", type=float, default=0.0, help="0-1: the bot rejects waiting steps"
    )
    parser.add_argument("--base-url", default="", help="the app (default http://HOST:PORT)")
    parser.add_argument("--starter", default="bob", help="user who starts the executions")
    parser.add_argument(
        "--approvers", default="carol,ada", help="users who approve, comma-separated"
    )
    parser.add_argument("--admin", default="ada", help="admin who sets the fault injection")
    parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable runs")
    return parser
