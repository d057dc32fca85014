"""Settings come from the environment when built, and bad values are named."""

from __future__ import annotations

import pytest

from app.settings import Settings, SettingsError


def test_settings_read_the_environment_when_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("TEMPORAL_TASK_QUEUE", "q1")
    monkeypatch.setenv("FRAME_ANCESTORS", "'self', https://intranet.example.com")
    built = Settings.from_env()
    assert (built.port, built.task_queue) == (8123, "q1")
    assert built.frame_ancestors == ("'self'", "https://intranet.example.com")


def test_logs_are_auto_and_tracing_off_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    assert (Settings.from_env().log_format, Settings.from_env().traces_exporter) == ("auto", ())
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp, console")
    built = Settings.from_env()
    assert (built.log_format, built.traces_exporter) == ("json", ("otlp", "console"))


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("PORT", "eighty", "PORT"),
        ("AUTH_MODE", "ldap", "AUTH_MODE"),
        ("PATH_PREFIX", "stepladder", "PATH_PREFIX"),
        ("SECRET_KEY", "short", "SECRET_KEY"),
        ("FAULT_INJECTION", "maybe", "FAULT_INJECTION"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT"),
        ("OTEL_TRACES_EXPORTER", "otlp,zipkin", "OTEL_TRACES_EXPORTER"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        Settings.from_env()


def test_proxy_mode_requires_a_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_MODE", "proxy")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="SECRET_KEY must be set"):
        Settings.from_env()


def test_fault_injection_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAULT_INJECTION", raising=False)
    assert Settings.from_env().fault_injection is False
    monkeypatch.setenv("FAULT_INJECTION", "on")
    assert Settings.from_env().fault_injection is True
