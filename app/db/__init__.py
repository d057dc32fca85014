"""PostgreSQL through Piccolo: tables, the engine binding and migrations."""
