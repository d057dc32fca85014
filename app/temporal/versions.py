"""The workflow's versions: the `workflow.patched` ids of ExecutionWorkflow
(app/temporal/workflows.py), each guarding a change to the commands it issues, so executions
started before it still replay (tests/test_replay.py replays a recorded history of each era)."""

# Keep each id until no execution started before it runs.
#
# "mode-read-with-action" guards two changes that shipped together, so one id covers both:
# (1) a reached step's action activity reads the step's mode itself (ActionInput.check_mode)
#     instead of a `resolve_step_mode` local activity before every action, and
# (2) one recording path: start, step outcomes and end written together by `record_progress`
#     (one transaction, flushed by a workflow timer) instead of `record_execution_started`,
#     `record_step_runs` batches and `record_execution_finished`.
# A second id for (2) alone cannot be added: executions recorded with this one marker must take
# both new paths on replay, and none ever took one without the other. Both retire together
# (tests/histories/v1 holds executions from before them).
ACTION_READS_MODE_ONE_RECORD_PATH = "mode-read-with-action"
# An approved step's run is recorded as running when its action starts (tests/histories/v2
# holds executions from before): until then its row said waiting for as long as the action ran,
# and inboxes and lists read from PostgreSQL showed it waiting.
APPROVED_RECORDED_RUNNING = "approved-recorded-running"
# DECISION_AGE_WINDOW ("decision-age-window", in decision_desk.py): a decision reaching the
# workflow past its window is refused and shown under its step.
# PARALLEL_STEPS ("parallel-steps", in step_scheduler.py): `depends_on` steps run side by side.
# POLICY_CHECKS ("policy-checks", in policy_checks.py): `policy:` rules checked before a step.
