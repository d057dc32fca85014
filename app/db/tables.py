"""Piccolo tables: Stepladder's own records and the demo business tables."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    BigInt,
    Boolean,
    Date,
    DoublePrecision,
    Integer,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Execution(Table, tablename="executions"):
    """One run of a workflow definition; mirrors the Temporal workflow of the same id."""

    execution_id = Varchar(length=100, unique=True, index=True)
    workflow_id = Varchar(length=100, index=True)
    workflow_name = Varchar(length=200)
    definition_hash = Varchar(length=64)
    status = Varchar(length=32, default="running", index=True)
    input = JSONB(default={})
    started_by = Varchar(length=200)
    started_at = Timestamptz()
    ended_at = Timestamptz(null=True, default=None)
    outcome = Text(default="")


class StepRun(Table, tablename="step_runs"):
    """The recorded outcome of one step in one execution; `run_key` makes recording idempotent."""

    run_key = Varchar(length=250, unique=True)
    execution_id = Varchar(length=100, index=True)
    workflow_id = Varchar(length=100, index=True)
    step_id = Varchar(length=100, index=True)
    mode = Varchar(length=32)
    status = Varchar(length=32)
    started_at = Timestamptz(null=True, default=None)
    ended_at = Timestamptz(null=True, default=None)
    duration_ms = Integer(null=True, default=None)
    summary = Text(default="")
    error = Text(default="")
    # When the row was first written as waiting for approval (the database's clock): the start
    # of the decision-latency metric. Empty for steps that never waited.
    waiting_since = Timestamptz(null=True, default=None)
    # Seconds from waiting_since to the accepted decision that ended the wait, set when the final
    # outcome is written (the decisions are recorded before it); empty when nobody decided.
    decision_seconds = DoublePrecision(null=True, default=None)


class StepRunDay(Table, tablename="step_run_days"):
    """One step's counted runs (successes: completed; failures: failed or rejected) that ended on
    one UTC day in one mode, kept by a trigger on step_runs (migration 10:00); a counted run
    without `ended_at` counts on day -infinity."""

    workflow_id = Varchar(length=100)
    step_id = Varchar(length=100)
    mode = Varchar(length=32)
    day = Date()
    successes = Integer(default=0)
    failures = Integer(default=0)


class WorkflowExecutionCount(Table, tablename="workflow_execution_counts"):
    """How many executions of one workflow were recorded and when the newest started, kept by a
    trigger on executions (migration 10:20)."""

    workflow_id = Varchar(length=100, unique=True)
    executions = BigInt(default=0)
    last_started_at = Timestamptz(null=True, default=None)


class StepRunOutcome(Table, tablename="step_run_outcomes"):
    """How many of one step's runs ended in one final status in one mode, kept by a trigger on
    step_runs (migration 10:40) for /metrics."""

    workflow_id = Varchar(length=100)
    step_id = Varchar(length=100)
    mode = Varchar(length=32)
    status = Varchar(length=32)
    runs = BigInt(default=0)


class DecisionLatencyBucket(Table, tablename="decision_latency_buckets"):
    """One step's decided waits whose decision_seconds fell in (previous bound, le] and their
    sum of seconds, kept by a trigger on step_runs (migration 10:40); le is +inf past the last
    bound of decision_latency_bounds."""

    workflow_id = Varchar(length=100)
    step_id = Varchar(length=100)
    le = DoublePrecision()
    runs = BigInt(default=0)
    total_seconds = DoublePrecision(default=0)


class DemoContact(Table, tablename="demo_contacts"):
    """CRM contacts of the customer_onboarding demo."""

    email = Varchar(length=320, unique=True)
    name = Varchar(length=200)
    tier = Varchar(length=32)
    credit_limit = Integer(default=0)
    created_by_execution = Varchar(length=100, default="")
    created_at = Timestamptz()


class DemoBillingAccount(Table, tablename="demo_billing_accounts"):
    """Billing accounts of the customer_onboarding demo, one per execution at most."""

    run_key = Varchar(length=250, unique=True)
    contact_email = Varchar(length=320, index=True)
    tier = Varchar(length=32)
    credit_limit = Integer(default=0)
    created_at = Timestamptz()


class DemoOutboxMessage(Table, tablename="demo_outbox"):
    """Emails the demo would send; a real system would deliver them from here."""

    run_key = Varchar(length=250, unique=True)
    to_address = Varchar(length=320)
    subject = Varchar(length=300)
    body = Text()
    created_at = Timestamptz()


class DemoInventoryItem(Table, tablename="demo_inventory"):
    """Stock of the order_processing demo: `reserved` grows with each reservation."""

    sku = Varchar(length=64, primary_key=True)
    name = Varchar(length=200)
    on_hand = Integer(default=0)
    reserved = Integer(default=0)


class DemoOrder(Table, tablename="demo_orders"):
    """Orders of the order_processing demo, one row per order id, its status moving along."""

    order_id = Varchar(length=100, primary_key=True)
    customer = Varchar(length=200)
    email = Varchar(length=320)
    sku = Varchar(length=64)
    quantity = Integer(default=1)
    amount = Integer(default=0)  # whole dollars
    status = Varchar(length=32, default="validated")
    payment_ref = Varchar(length=100, default="")
    tracking_number = Varchar(length=100, default="")
    execution_id = Varchar(length=100, default="")
    updated_at = Timestamptz()


class DemoReservation(Table, tablename="demo_reservations"):
    """Stock held for an order, one per step run (`run_key`): a retry never reserves twice."""

    run_key = Varchar(length=250, primary_key=True)
    order_id = Varchar(length=100, index=True)
    sku = Varchar(length=64)
    quantity = Integer()
    created_at = Timestamptz()


class DemoPayment(Table, tablename="demo_payments"):
    """Charges of the order_processing demo, one per step run (`run_key`)."""

    run_key = Varchar(length=250, primary_key=True)
    order_id = Varchar(length=100, index=True)
    amount = Integer()
    created_at = Timestamptz()


class DemoExpense(Table, tablename="demo_expenses"):
    """Expense claims of the expense_approval demo, one per execution, approved then reimbursed."""

    execution_id = Varchar(length=100, primary_key=True)
    employee = Varchar(length=200)
    email = Varchar(length=320)
    amount = Integer()  # whole dollars
    description = Text(default="")
    status = Varchar(length=32, default="submitted")
    approved_by = Text(default="")  # comma-separated user ids
    reimbursement_ref = Varchar(length=100, default="")
    updated_at = Timestamptz()


class StepConfig(Table, tablename="step_configs"):
    """A step's current deployment mode and promotion settings; `version` guards concurrent edits."""

    workflow_id = Varchar(length=100)
    step_id = Varchar(length=100)
    impact = Varchar(length=32)
    mode = Varchar(length=32)
    auto_promote = Boolean(default=True)
    criteria = JSONB(default={})
    mode_since = Timestamptz()
    version = Integer(default=1)
    updated_by = Varchar(length=200, default="")


class ApprovalDecision(Table, tablename="decisions"):
    """One approve/reject decision on a waiting step (web, API or CLI); refused signals too."""

    decision_key = Varchar(length=300, unique=True)
    execution_id = Varchar(length=100, index=True)
    workflow_id = Varchar(length=100)
    step_id = Varchar(length=100)
    user_id = Varchar(length=200)
    action = Varchar(length=16)
    reason = Text(default="")
    confirmations = JSONB(default=[])
    typed_confirmation = Text(default="")
    source = Varchar(length=16, default="web")
    accepted = Boolean(default=True)
    refusal = Text(default="")
    decided_at = Timestamptz()
    inputs = JSONB(default={})  # the step's approval_inputs as the approver filled them


class ModeChangeEvent(Table, tablename="mode_changes"):
    """Audit event: a step's mode changed (promotion, demotion or an admin), with the metrics."""

    workflow_id = Varchar(length=100)
    step_id = Varchar(length=100)
    from_mode = Varchar(length=32)
    to_mode = Varchar(length=32)
    kind = Varchar(length=16)
    changed_by = Varchar(length=200)
    reason = Text(default="")
    metrics = JSONB(default={})
    changed_at = Timestamptz()


class FaultInjection(Table, tablename="fault_injections"):
    """A step whose action fails on purpose at `failure_rate` (0-1): `simulate` sets it to watch
    a step get demoted by real failures of the real activity."""

    workflow_id = Varchar(length=100)
    step_id = Varchar(length=100)
    failure_rate = DoublePrecision()
    set_by = Varchar(length=200, default="")
    set_at = Timestamptz()


class ApiTokenRecord(Table, tablename="api_tokens"):
    """An API token: whom it stands for (user, roles, groups), the sha256 of its secret (the
    secret itself is shown once and never stored), its prefix for display, and its life."""

    id = Serial(primary_key=True)
    name = Varchar(length=200, default="")
    user_name = Varchar(length=200)
    roles = JSONB(default=[])
    groups = JSONB(default=[])
    prefix = Varchar(length=16)
    secret_hash = Varchar(length=64, unique=True)
    created_by = Varchar(length=200)
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class WorkflowState(Table, tablename="workflow_states"):
    """A workflow's lifecycle as people set it: active (no row), paused (no new starts, its
    schedules paused) or archived (no new starts; its history kept). One row per workflow."""

    workflow_id = Varchar(length=100, primary_key=True)
    state = Varchar(length=16)
    changed_by = Varchar(length=200, default="")
    reason = Text(default="")
    changed_at = Timestamptz()


class RateLimitCounter(Table, tablename="rate_limit_counters"):
    """Starts counted in one fixed window for one key (a user's starts, a workflow's webhook):
    `bucket` is "<key>@<window start, unix seconds>"; rows whose window ended are pruned."""

    bucket = Varchar(length=300, primary_key=True)
    hits = Integer(default=0)
    window_ends = Timestamptz()


class NotificationDelivery(Table, tablename="notification_deliveries"):
    """One notice to one channel, keyed so it is sent once: `status` sent or failed, with the
    attempts made and the last error (app/temporal/notifying.py)."""

    key = Varchar(length=300, primary_key=True)
    execution_id = Varchar(length=200)
    step_id = Varchar(length=100)
    channel = Varchar(length=100)
    channel_type = Varchar(length=16)
    kind = Varchar(length=16)
    status = Varchar(length=16)
    attempts = Integer(default=0)
    failures = Integer(default=0)
    error = Text(default="")
    first_at = Timestamptz()
    last_at = Timestamptz()


class StepPreview(Table, tablename="step_previews"):
    """The summary line of the operation preview a waiting step shows (written by the preview
    activity, once per step run: `run_key` as in step_runs), for the inbox and notifications."""

    run_key = Varchar(length=250, unique=True)
    execution_id = Varchar(length=100)
    workflow_id = Varchar(length=100)
    step_id = Varchar(length=100)
    summary = Text(default="")
    recorded_at = Timestamptz()


class ExecutionCancellation(Table, tablename="execution_cancellations"):
    """Who cancelled an execution and why: Temporal's cancel request carries no reason, so the
    web records it here when it asks Temporal to cancel. One row per execution."""

    execution_id = Varchar(length=100, primary_key=True)
    cancelled_by = Varchar(length=200)
    reason = Text()
    cancelled_at = Timestamptz()


class PolicyCheckRecord(Table, tablename="policy_checks"):
    """One `policy:` rule's check of one step run (app/temporal/policy_checks.py): the value of
    the rule's field in the rendered params (`amount` when it is a number), the limits, and
    whether it passed or what the breach did (`action`: deny / require_approval)."""

    check_key = Varchar(length=400, unique=True)  # "<execution>/<step>/<rule>": retries upsert
    execution_id = Varchar(length=100, index=True)
    workflow_id = Varchar(length=100, index=True)
    step_id = Varchar(length=100)
    rule_id = Varchar(length=100)
    field = Varchar(length=100)
    value = Text(default="")
    amount = DoublePrecision(null=True, default=None)
    limits = Text(default="")
    passed = Boolean(default=True)
    action = Varchar(length=32, default="")
    message = Text(default="")
    checked_at = Timestamptz()


class DemoTask(Table, tablename="demo_tasks"):
    """A task the policy_check definition's last step carried out (one row per step run)."""

    run_key = Varchar(length=250, unique=True)
    task = Text()
    requested_by = Varchar(length=200, default="")
    created_at = Timestamptz()


TABLES: tuple[type[Table], ...] = (
    Execution,
    StepRun,
    StepRunDay,
    WorkflowExecutionCount,
    StepRunOutcome,
    DecisionLatencyBucket,
    DemoContact,
    DemoBillingAccount,
    DemoOutboxMessage,
    DemoInventoryItem,
    DemoOrder,
    DemoReservation,
    DemoPayment,
    DemoExpense,
    StepConfig,
    ApprovalDecision,
    ModeChangeEvent,
    FaultInjection,
    ApiTokenRecord,
    WorkflowState,
    RateLimitCounter,
    NotificationDelivery,
    StepPreview,
    ExecutionCancellation,
    PolicyCheckRecord,
    DemoTask,
)
