"""Typed settings, read from the environment when the app (or a command) is built."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value the app cannot use; the message names the variable."""


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _env_seconds(name: str, default: float, *, allow_zero: bool = False) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        least = "0 seconds or more" if allow_zero else "more than 0 seconds"
        raise SettingsError(f"{name} must be {least}, got {raw!r}")
    return value


def _env_port(name: str, default: int) -> int:
    value = _env_int(name, default)
    if not 0 <= value <= 65535:
        raise SettingsError(f"{name} must be a port number (0-65535), got {value}")
    return value


def _env_list(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _notify_channels() -> dict[str, Any]:
    raw = os.environ.get("NOTIFY_CHANNELS", "").strip()
    try:
        channels = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise SettingsError(f"NOTIFY_CHANNELS is not valid JSON: {exc}") from None
    if not isinstance(channels, dict):
        raise SettingsError("NOTIFY_CHANNELS must be a JSON object of channel name → channel")
    return channels


def _log_format() -> str:
    log_format = os.environ.get("LOG_FORMAT", "auto").strip().lower() or "auto"
    if log_format not in ("auto", "json", "text"):
        raise SettingsError(f"LOG_FORMAT must be 'auto', 'json' or 'text', got {log_format!r}")
    return log_format


def _traces_exporters() -> tuple[str, ...]:
    exporters = tuple(e.lower() for e in _env_list("OTEL_TRACES_EXPORTER", ()))
    unknown = [e for e in exporters if e not in ("otlp", "console", "none")]
    if unknown:
        raise SettingsError(
            f"OTEL_TRACES_EXPORTER may name otlp, console or none, got {unknown[0]!r}"
        )
    return exporters


_RATE = re.compile(r"^\s*(?P<count>\d+)\s*/\s*(?P<n>\d+)?\s*(?P<unit>[a-z]+)\s*$")
_RATE_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400,
}  # fmt: skip


@dataclass(frozen=True)
class RateLimit:
    """At most `count` starts per fixed window of `window_seconds` (e.g. 10 per 60 s)."""

    count: int
    window_seconds: int

    @property
    def window_words(self) -> str:
        """The window as people say it: "minute", "10 minutes", "hour", "30 seconds"."""
        for unit, seconds in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
            if self.window_seconds % seconds == 0:
                n = self.window_seconds // seconds
                return unit if n == 1 else f"{n} {unit}s"
        return f"{self.window_seconds} seconds"  # pragma: no cover - seconds always divide


def parse_rate_limit(name: str, raw: str) -> RateLimit | None:
    """`raw` like "10/minute", "60/min", "5/10s", "100/hour" → RateLimit; "off" or "0" → None
    (no limit). Raises SettingsError naming the variable `name` for anything else."""
    text = raw.strip().lower()
    if text in ("off", "0", "none", "unlimited"):
        return None
    match = _RATE.match(text)
    if not match or match["unit"] not in _RATE_UNITS or int(match["count"]) < 1:
        raise SettingsError(f"{name} must look like 10/minute, 60/hour or off, got {raw!r}")
    window = int(match["n"] or 1) * _RATE_UNITS[match["unit"]]
    if window < 1:
        raise SettingsError(f"{name} needs a window of at least one second, got {raw!r}")
    return RateLimit(int(match["count"]), window)


def _env_rate(name: str, default: str) -> RateLimit | None:
    return parse_rate_limit(name, os.environ.get(name, "").strip() or default)


def _env_zone(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip() or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"{name} must be an IANA time zone like Europe/Paris, got {value!r}"
        ) from None
    return value


def _webhook_secrets() -> dict[str, str]:
    raw = os.environ.get("STEPLADDER_WEBHOOK_SECRETS", "").strip()
    if not raw:
        return {}
    try:
        secrets = json.loads(raw)
    except ValueError:
        raise SettingsError(
            "STEPLADDER_WEBHOOK_SECRETS must be a JSON object of workflow id → secret"
        ) from None
    if not isinstance(secrets, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in secrets.items()
    ):
        raise SettingsError(
            "STEPLADDER_WEBHOOK_SECRETS must be a JSON object of workflow id → non-empty secret"
        )
    return secrets


@dataclass(frozen=True)
class Settings:
    database_url: str
    """PostgreSQL URL (DATABASE_URL); empty means the embedded PostgreSQL of `stepladder dev`."""
    temporal_address: str
    """host:port of the Temporal frontend (TEMPORAL_ADDRESS); empty means the embedded dev server."""
    temporal_namespace: str = "default"
    """Temporal namespace (TEMPORAL_NAMESPACE)."""
    task_queue: str = "stepladder"
    """Task queue shared by the web starter and the worker (TEMPORAL_TASK_QUEUE)."""
    host: str = "127.0.0.1"
    """Address the web server binds (HOST)."""
    port: int = 8000
    """Port the web server binds (PORT)."""
    path_prefix: str = ""
    """URL prefix when served behind a reverse proxy under a sub-path (PATH_PREFIX, e.g. /stepladder)."""
    secret_key: str = "stepladder-dev-secret-change-me-0123456789"
    """Signs session cookies and CSRF tokens (SECRET_KEY); must be set outside development."""
    secret_key_previous: tuple[str, ...] = ()
    """Keys signed with before SECRET_KEY (SECRET_KEY_PREVIOUS, comma-separated): session cookies
    they signed are still accepted while rotating; new cookies are signed with SECRET_KEY."""
    session_max_age: int = 12 * 3600
    """Seconds a browser sign-in lasts before signing in again (SESSION_MAX_AGE)."""
    auth_mode: str = "dev"
    """`dev` (sign in as a demo user from a menu) or `proxy` (trusted reverse-proxy headers)."""
    auth_user_header: str = "X-Forwarded-User"
    """Header holding the user name in proxy mode (AUTH_USER_HEADER)."""
    auth_groups_header: str = "X-Forwarded-Groups"
    """Header holding comma-separated groups in proxy mode (AUTH_GROUPS_HEADER)."""
    admin_group: str = "stepladder-admins"
    """Group that grants the admin role in proxy mode (AUTH_ADMIN_GROUP)."""
    approver_group: str = "stepladder-approvers"
    """Group that grants the approver role in proxy mode (AUTH_APPROVER_GROUP)."""
    frame_ancestors: tuple[str, ...] = ("'self'",)
    """Origins allowed to embed pages in a frame (FRAME_ANCESTORS, comma-separated)."""
    definitions_dir: Path = field(default=REPO_ROOT / "definitions")
    """Folder of workflow definition YAML files (DEFINITIONS_DIR)."""
    data_dir: Path = field(default=REPO_ROOT / ".data")
    """Where the embedded PostgreSQL and Temporal keep their files (DATA_DIR)."""
    embedded_postgres_port: int = 55432
    """Port of the embedded PostgreSQL (EMBEDDED_POSTGRES_PORT)."""
    embedded_temporal_port: int = 7233
    """Port of the embedded Temporal dev server (EMBEDDED_TEMPORAL_PORT); its UI is this + 1000."""
    log_level: str = "INFO"
    """Python log level (LOG_LEVEL)."""
    log_format: str = "auto"
    """Log lines as `json`, `text` (key=value, coloured on a terminal) or `auto`: text when
    stderr is a terminal, JSON otherwise (LOG_FORMAT)."""
    traces_exporter: tuple[str, ...] = ()
    """OpenTelemetry span exporters (OTEL_TRACES_EXPORTER, comma-separated: `otlp` over
    HTTP, `console`); empty or `none`: tracing off. The SDK reads the other OTEL_* variables."""
    fault_injection: bool = False
    """Whether admins may make steps fail on purpose (FAULT_INJECTION; `make run` turns it
    on for `simulate --failure-rate`): off, the API refuses and workers ignore injections."""
    metrics_token: str = ""
    """When set, `GET /metrics` asks for `Authorization: Bearer <this>` (METRICS_TOKEN); empty,
    anyone who reaches the web process may scrape it (keep it off the public proxy)."""
    metrics_timeout: float = 2.0
    """Longest time one scrape's PostgreSQL reads may take, in seconds (METRICS_TIMEOUT); past
    it the product metrics are left out and stepladder_metrics_scrape_errors_total counts it."""
    worker_metrics_port: int = 9464
    """Port of the worker's Temporal SDK Prometheus endpoint, on HOST (WORKER_METRICS_PORT);
    0 turns it off."""
    temporal_rpc_timeout: float = 5.0
    """Deadline in seconds of the web layer's calls to Temporal (TEMPORAL_RPC_TIMEOUT): a start,
    a cancel, a timeline query; past it Temporal counts as down, or a timeline is read from
    PostgreSQL's records when the query found no worker to answer it."""
    decision_timeout: float = 10.0
    """How long a decision waits for the workflow to confirm it (DECISION_TIMEOUT); past it
    the answer is 503 "not applied: the engine is not answering"."""
    decision_window: float = 60.0
    """A decision reaching its workflow later than this after the click is refused and shown
    as such on the timeline (DECISION_WINDOW): it never takes effect long after it was made."""

    public_url: str = ""
    """The address people open Stepladder at, with its path prefix (PUBLIC_URL, e.g.
    https://intranet.example.com/stepladder): links in notifications start with it. Empty:
    http://HOST:PORT plus PATH_PREFIX."""
    notify_channels: dict[str, Any] = field(default_factory=dict)
    """Notification channels by name (NOTIFY_CHANNELS, JSON), e.g. {"ops": {"type": "slack",
    "url": "https://hooks.slack.com/services/..."}, "audit": {"type": "webhook", "url": "...",
    "secret_env": "AUDIT_HOOK_SECRET"}, "finance": {"type": "email", "to": ["fin@example.com"]}};
    definitions name them in `notify:`. Checked when a worker starts."""
    smtp_host: str = ""
    """The SMTP server for email channels (SMTP_HOST); empty: email channels fail, saying so."""
    smtp_port: int = 25
    """Its port (SMTP_PORT)."""
    smtp_username: str = ""
    """Login, when the server asks for one (SMTP_USERNAME, SMTP_PASSWORD)."""
    smtp_password: str = ""
    smtp_starttls: bool = False
    """Upgrade the connection with STARTTLS (SMTP_STARTTLS)."""
    smtp_from: str = "stepladder@localhost"
    """The From address of notification emails (SMTP_FROM)."""

    worker_shutdown_grace: float = 7.0
    """Seconds a stopping worker lets its running activities finish before cancelling them
    (WORKER_SHUTDOWN_GRACE; below docker's 10 s stop timeout)."""
    start_rate_limit: RateLimit | None = RateLimit(10, 60)
    """Starts per user (form, API, run) across all web processes (STEPLADDER_START_RATE_LIMIT,
    e.g. "10/minute", "100/hour"; "off": no limit). Schedules are not limited."""
    webhook_rate_limit: RateLimit | None = RateLimit(60, 60)
    """Starts per workflow through its webhook (STEPLADDER_WEBHOOK_RATE_LIMIT, e.g. "60/minute")."""
    webhook_secrets: dict[str, str] = field(default_factory=dict, hash=False)
    """Webhook secrets by workflow id (STEPLADDER_WEBHOOK_SECRETS, a JSON object); a workflow
    missing here reads the environment variable its trigger's `secret_env` names."""
    worker_stale_after: float = 90.0
    """Seconds since a poller last reached the task queue after which no worker counts as
    polling and timelines and the inbox show a banner (WORKER_STALE_AFTER). An idle worker's
    long-poll lasts up to ~70 s, so less than that would flap."""
    workers_cache_seconds: float = 5.0
    """How long a web process reuses its last DescribeTaskQueue answer (WORKERS_CACHE_SECONDS):
    banners cost no RPC per request."""
    policy_time_zone: str = "UTC"
    """The IANA zone whose calendar day a `policy:` rule's daily_max sums over when the rule
    gives no `time_zone` (STEPLADDER_POLICY_TIME_ZONE)."""

    @classmethod
    def from_env(cls) -> Settings:
        auth_mode = os.environ.get("AUTH_MODE", "dev").strip().lower()
        if auth_mode not in ("dev", "proxy"):
            raise SettingsError(f"AUTH_MODE must be 'dev' or 'proxy', got {auth_mode!r}")
        prefix = os.environ.get("PATH_PREFIX", "").strip().rstrip("/")
        if prefix and not prefix.startswith("/"):
            raise SettingsError(f"PATH_PREFIX must start with '/', got {prefix!r}")
        secret = os.environ.get("SECRET_KEY", cls.secret_key)
        if len(secret) < 32:
            raise SettingsError("SECRET_KEY must be at least 32 characters long")
        if auth_mode == "proxy" and secret == cls.secret_key:
            raise SettingsError("SECRET_KEY must be set when AUTH_MODE=proxy")
        max_age = _env_int("SESSION_MAX_AGE", cls.session_max_age)
        if max_age <= 0:
            raise SettingsError(
                f"SESSION_MAX_AGE must be a positive number of seconds, got {max_age}"
            )
        return cls(
            database_url=os.environ.get("DATABASE_URL", "").strip(),
            temporal_address=os.environ.get("TEMPORAL_ADDRESS", "").strip(),
            temporal_namespace=os.environ.get("TEMPORAL_NAMESPACE", "default"),
            task_queue=os.environ.get("TEMPORAL_TASK_QUEUE", "stepladder"),
            host=os.environ.get("HOST", "127.0.0.1"),
            port=_env_int("PORT", 8000),
            path_prefix=prefix,
            secret_key=secret,
            secret_key_previous=_env_list("SECRET_KEY_PREVIOUS", ()),
            session_max_age=max_age,
            auth_mode=auth_mode,
            auth_user_header=os.environ.get("AUTH_USER_HEADER", cls.auth_user_header),
            auth_groups_header=os.environ.get("AUTH_GROUPS_HEADER", cls.auth_groups_header),
            admin_group=os.environ.get("AUTH_ADMIN_GROUP", cls.admin_group),
            approver_group=os.environ.get("AUTH_APPROVER_GROUP", cls.approver_group),
            frame_ancestors=_env_list("FRAME_ANCESTORS", ("'self'",)),
            definitions_dir=Path(os.environ.get("DEFINITIONS_DIR", REPO_ROOT / "definitions")),
            data_dir=Path(os.environ.get("DATA_DIR", REPO_ROOT / ".data")),
            embedded_postgres_port=_env_int("EMBEDDED_POSTGRES_PORT", 55432),
            embedded_temporal_port=_env_int("EMBEDDED_TEMPORAL_PORT", 7233),
            log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
            log_format=_log_format(),
            traces_exporter=_traces_exporters(),
            fault_injection=_env_bool("FAULT_INJECTION", False),
            metrics_token=os.environ.get("METRICS_TOKEN", "").strip(),
            metrics_timeout=_env_seconds("METRICS_TIMEOUT", 2.0),
            worker_metrics_port=_env_port("WORKER_METRICS_PORT", 9464),
            temporal_rpc_timeout=_env_seconds("TEMPORAL_RPC_TIMEOUT", 5.0),
            decision_timeout=_env_seconds("DECISION_TIMEOUT", 10.0),
            decision_window=_env_seconds("DECISION_WINDOW", 60.0),
            worker_shutdown_grace=_env_seconds("WORKER_SHUTDOWN_GRACE", 7.0, allow_zero=True),
            start_rate_limit=_env_rate("STEPLADDER_START_RATE_LIMIT", "10/minute"),
            webhook_rate_limit=_env_rate("STEPLADDER_WEBHOOK_RATE_LIMIT", "60/minute"),
            webhook_secrets=_webhook_secrets(),
            public_url=os.environ.get("PUBLIC_URL", "").strip().rstrip("/"),
            notify_channels=_notify_channels(),
            smtp_host=os.environ.get("SMTP_HOST", "").strip(),
            smtp_port=_env_port("SMTP_PORT", 25),
            smtp_username=os.environ.get("SMTP_USERNAME", ""),
            smtp_password=os.environ.get("SMTP_PASSWORD", ""),
            smtp_starttls=_env_bool("SMTP_STARTTLS", False),
            smtp_from=os.environ.get("SMTP_FROM", "stepladder@localhost"),
            worker_stale_after=_env_seconds("WORKER_STALE_AFTER", 90.0),
            workers_cache_seconds=_env_seconds("WORKERS_CACHE_SECONDS", 5.0, allow_zero=True),
            policy_time_zone=_env_zone("STEPLADDER_POLICY_TIME_ZONE", "UTC"),
        )

    @property
    def link_base(self) -> str:
        """Where links in notifications start: PUBLIC_URL, else this server's own address."""
        return self.public_url or f"http://{self.host}:{self.port}{self.path_prefix}"

    def require_services(self) -> None:
        """Web, worker and migrate need real addresses; only `dev` may leave them empty."""
        if not self.database_url:
            raise SettingsError("DATABASE_URL is not set (use `make run` for the embedded one)")
        if not self.temporal_address:
            raise SettingsError("TEMPORAL_ADDRESS is not set (use `make run` for the embedded one)")
