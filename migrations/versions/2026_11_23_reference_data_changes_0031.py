"""A log of reference-data changes, so caches of reference data know when they are stale.

Why: a deposit product version never changes, so servicing caches its terms per process
(servicing/deposits/terms.py); but those terms also carry reference data that does change: the
fund-source GL account of each payment type, the withdrawal-fee charges and the VAT/TAF rates
they name. Cached per version only, a change to any of those reached a running server at its
next restart. Every statement that changes `payment_type`, `tax_rate`, `charge` or
`gl_account` now appends one row here (a statement trigger), and a cache keys its entries on
the number of rows: counted in the same query (the same snapshot) as the data cached, the count
changes exactly when a change commits, in every process. Appending (not bumping one counter
row) takes no row lock, so two transactions changing reference data never wait on each other
or deadlock here; counting, not `max(id)`, sees a change committed after a later one.

Revision ID: 0031
Revises: 0030
Create Date: 2026-11-23
"""

from migrations import refuse_changes
from migrations import run_script as _script

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

WATCHED = ("payment_type", "tax_rate", "charge", "gl_account")

TABLES = """
CREATE TABLE reference_data_change (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    table_name varchar(63) NOT NULL,
    operation varchar(10) NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE reference_data_change IS
    'One row per statement changing reference data that servicing caches; caches key on count(*).';

CREATE FUNCTION reference_data_changed() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    INSERT INTO reference_data_change (table_name, operation) VALUES (TG_TABLE_NAME, TG_OP);
    RETURN NULL;
END $$;
""" + "".join(
    f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}\n"
    f"    FOR EACH STATEMENT EXECUTE FUNCTION reference_data_changed();\n" for table in WATCHED
) + refuse_changes("reference_data_change_refuse_change", append_only=("reference_data_change",))


def _grants(app_role: str) -> str:
    role = app_role.replace('"', "")
    return (f'GRANT SELECT ON reference_data_change TO "{role}";\n'
            f'GRANT INSERT (table_name, operation) ON reference_data_change TO "{role}";\n'
            f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{role}";\n')


def upgrade(app_role: str) -> None:
    _script(TABLES)
    _script(_grants(app_role))


def downgrade(app_role: str) -> None:
    _script("".join(f"DROP TRIGGER {table}_changed ON {table};" for table in WATCHED)
            + "DROP TABLE reference_data_change;"
            + "DROP FUNCTION reference_data_changed; DROP FUNCTION reference_data_change_refuse_change;")
