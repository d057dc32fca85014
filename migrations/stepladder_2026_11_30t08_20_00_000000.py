"""Demo tables of the order_processing and expense_approval definitions, with the stock the
order demo reserves from (app/db/demo.py DEMO_STOCK; `stepladder migrate` restocks missing SKUs)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from app.db.ddl import ddl_migration

ID = "2026-11-30T08:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "order processing and expense approval demo tables"

STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS demo_inventory (
        sku varchar(64) PRIMARY KEY,
        name varchar(200) NOT NULL,
        on_hand integer NOT NULL DEFAULT 0,
        reserved integer NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS demo_orders (
        order_id varchar(100) PRIMARY KEY,
        customer varchar(200) NOT NULL,
        email varchar(320) NOT NULL,
        sku varchar(64) NOT NULL,
        quantity integer NOT NULL DEFAULT 1,
        amount integer NOT NULL DEFAULT 0,
        status varchar(32) NOT NULL DEFAULT 'validated',
        payment_ref varchar(100) NOT NULL DEFAULT '',
        tracking_number varchar(100) NOT NULL DEFAULT '',
        execution_id varchar(100) NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS demo_reservations (
        run_key varchar(250) PRIMARY KEY,
        order_id varchar(100) NOT NULL,
        sku varchar(64) NOT NULL,
        quantity integer NOT NULL,
        created_at timestamptz NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS demo_reservations_order_id ON demo_reservations (order_id)",
    """CREATE TABLE IF NOT EXISTS demo_payments (
        run_key varchar(250) PRIMARY KEY,
        order_id varchar(100) NOT NULL,
        amount integer NOT NULL,
        created_at timestamptz NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS demo_payments_order_id ON demo_payments (order_id)",
    """CREATE TABLE IF NOT EXISTS demo_expenses (
        execution_id varchar(100) PRIMARY KEY,
        employee varchar(200) NOT NULL,
        email varchar(320) NOT NULL,
        amount integer NOT NULL,
        description text NOT NULL DEFAULT '',
        status varchar(32) NOT NULL DEFAULT 'submitted',
        approved_by text NOT NULL DEFAULT '',
        reimbursement_ref varchar(100) NOT NULL DEFAULT '',
        updated_at timestamptz NOT NULL
    )""",
    """INSERT INTO demo_inventory (sku, name, on_hand, reserved) VALUES
        ('WIDGET-1', 'Widget', 500, 0),
        ('GADGET-2', 'Gadget', 200, 0),
        ('GIZMO-3', 'Gizmo', 5, 0)
    ON CONFLICT (sku) DO NOTHING""",
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, DESCRIPTION, STATEMENTS)
