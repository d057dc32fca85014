"""Impact levels, deployment modes and the promotion path each impact allows (SPEC §1)."""

from __future__ import annotations

from enum import StrEnum


class ImpactLevel(StrEnum):
    ACCESSORY = "accessory"
    READ = "read"
    WRITE = "write"
    CRITICAL = "critical"
    EXTERNAL = "external"


class DeploymentMode(StrEnum):
    ALWAYS_AUTO = "always_auto"
    AUTO_MONITORED = "auto_monitored"
    VALIDATION_REQUIRED = "validation_required"
    ALWAYS_MANUAL = "always_manual"

    @property
    def badge(self) -> str:
        """The mode's short name on badges ("Monitored"); pages add an SVG icon (_status.html)."""
        return _BADGES[self]

    @property
    def needs_approval(self) -> bool:
        return self in (DeploymentMode.VALIDATION_REQUIRED, DeploymentMode.ALWAYS_MANUAL)


_BADGES = {
    DeploymentMode.ALWAYS_AUTO: "Auto",
    DeploymentMode.AUTO_MONITORED: "Monitored",
    DeploymentMode.VALIDATION_REQUIRED: "Validation",
    DeploymentMode.ALWAYS_MANUAL: "Manual",
}

DEFAULT_MODE: dict[ImpactLevel, DeploymentMode] = {
    ImpactLevel.ACCESSORY: DeploymentMode.ALWAYS_AUTO,
    ImpactLevel.READ: DeploymentMode.AUTO_MONITORED,
    ImpactLevel.WRITE: DeploymentMode.VALIDATION_REQUIRED,
    ImpactLevel.CRITICAL: DeploymentMode.ALWAYS_MANUAL,
    ImpactLevel.EXTERNAL: DeploymentMode.VALIDATION_REQUIRED,
}

# Each impact's modes from its default to its ceiling; a step only ever holds a mode on its path.
PROMOTION_PATH: dict[ImpactLevel, tuple[DeploymentMode, ...]] = {
    ImpactLevel.ACCESSORY: (DeploymentMode.ALWAYS_AUTO,),
    ImpactLevel.READ: (DeploymentMode.AUTO_MONITORED, DeploymentMode.ALWAYS_AUTO),
    ImpactLevel.WRITE: (
        DeploymentMode.VALIDATION_REQUIRED,
        DeploymentMode.AUTO_MONITORED,
        DeploymentMode.ALWAYS_AUTO,
    ),
    ImpactLevel.CRITICAL: (
        DeploymentMode.ALWAYS_MANUAL,
        DeploymentMode.VALIDATION_REQUIRED,
        DeploymentMode.AUTO_MONITORED,
    ),
    ImpactLevel.EXTERNAL: (DeploymentMode.VALIDATION_REQUIRED, DeploymentMode.AUTO_MONITORED),
}
