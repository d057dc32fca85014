"""Piccolo configuration for the `piccolo` CLI and migrations (PICCOLO_CONF=app.db.piccolo_conf)."""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(config={"dsn": os.environ.get("DATABASE_URL", "")})

APP_REGISTRY = AppRegistry(apps=["app.db.piccolo_app"])
