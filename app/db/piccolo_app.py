"""Piccolo app registration: where the tables and the top-level migrations/ folder are."""

from piccolo.conf.apps import AppConfig

from app.db.tables import TABLES
from app.settings import REPO_ROOT

APP_CONFIG = AppConfig(
    app_name="stepladder",
    migrations_folder_path=str(REPO_ROOT / "migrations"),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)
