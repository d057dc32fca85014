"""`stepladder schedules sync` from a shell: the files' Schedules created, updated when the file
changes, deleted when it goes, as `temporal schedule list` shows; an outage in one line."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from temporalio.client import Client

from app.definitions.schedules_cli import syncing_schedules
from app.settings import REPO_ROOT, Settings
from tests.helpers import eventually
from tests.test_cli import SETTING_VARIABLES, UNREACHABLE_TEMPORAL, error_line
from tests.test_schedules import list_cli, schedule_ids


def stepladder(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The worktree's `stepladder` (python -m app.cli) with only the given settings."""
    clean = {key: value for key, value in os.environ.items() if key not in SETTING_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env={**clean, **env}, cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def scheduled_file(folder: Path, workflow_id: str, interval: str) -> None:
    raw: dict[str, Any] = yaml.safe_load(
        (REPO_ROOT / "definitions" / "customer_onboarding.yaml").read_text()
    )
    raw["id"] = workflow_id
    raw["triggers"] = [{"type": "schedule", "id": "nightly", "interval": interval,
                        "time_zone": "Europe/Paris",
                        "input": {"name": "Nightly", "email": "nightly@example.com"}}]  # fmt: skip
    (folder / f"{workflow_id}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def test_schedules_sync_creates_updates_and_deletes_as_the_files_say(
    settings: Settings, database_url: str, tmp_path: Path
) -> None:
    workflow_id = f"cli_{uuid.uuid4().hex[:8]}"
    sid = f"stepladder:{workflow_id}:nightly"
    env = {"DATABASE_URL": database_url, "TEMPORAL_ADDRESS": settings.temporal_address,
           "TEMPORAL_TASK_QUEUE": settings.task_queue, "DEFINITIONS_DIR": str(tmp_path)}  # fmt: skip
    scheduled_file(tmp_path, workflow_id, "1h")
    created = stepladder("schedules", "sync", **env)
    assert created.returncode == 0, created.stderr
    assert f"created\t{sid}" in created.stdout
    assert (
        "schedules synced: 1 created, 0 updated, 0 deleted, 0 unchanged, 0 failed" in created.stdout
    )
    again = stepladder("schedules", "sync", **env)
    assert "0 created, 0 updated, 0 deleted, 1 unchanged, 0 failed" in again.stdout, again.stderr
    scheduled_file(tmp_path, workflow_id, "2h")
    updated = stepladder("schedules", "sync", **env)
    assert f"updated\t{sid}" in updated.stdout, updated.stderr
    (tmp_path / f"{workflow_id}.yaml").unlink()
    deleted = stepladder("schedules", "sync", **env)
    assert f"deleted\t{sid}" in deleted.stdout, deleted.stderr
    assert sid not in list_cli(settings)


def test_schedules_sync_with_temporal_down_says_so_in_one_line(
    database_url: str, tmp_path: Path
) -> None:
    done = stepladder(
        "schedules", "sync", DATABASE_URL=database_url, TEMPORAL_ADDRESS=UNREACHABLE_TEMPORAL,
        DEFINITIONS_DIR=str(tmp_path),
    )  # fmt: skip
    assert "Temporal" in error_line(done, "schedules")


async def test_a_starting_worker_syncs_the_schedules_in_the_background(
    settings: Settings, temporal_client: Client, database_url: str, tmp_path: Path
) -> None:
    workflow_id = f"wk_{uuid.uuid4().hex[:8]}"
    sid = f"stepladder:{workflow_id}:nightly"
    scheduled_file(tmp_path, workflow_id, "1h")
    worker_settings = replace(settings, definitions_dir=tmp_path)
    async with syncing_schedules(worker_settings, temporal_client):  # what `stepladder worker` runs
        await eventually(lambda: schedule_ids(temporal_client), lambda ids: sid in ids)
    await temporal_client.get_schedule_handle(sid).delete()


async def test_a_worker_with_a_bad_definition_file_still_starts(
    settings: Settings, temporal_client: Client, tmp_path: Path
) -> None:
    (tmp_path / "broken.yaml").write_text("id: broken\nname: Broken\nsteps: []\n")
    async with syncing_schedules(replace(settings, definitions_dir=tmp_path), temporal_client):
        pass  # the sync is skipped (logged); the worker runs any definition it is given
