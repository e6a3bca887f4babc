"""Alembic migrations. `alembic_config(url)` builds the configuration programmatically, so
`grandlivre migrate`, `serve`, `demo` and the tests all apply the same revisions."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(database_url: str, *, app_role: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    config.attributes["app_role"] = app_role
    return config


def run_script(sql: str) -> None:
    """Run a multi-statement script on the driver connection (asyncpg's simple protocol):
    prepared statements take one statement only, and PL/pgSQL bodies are not bind templates.
    Revisions after 0001 call this instead of carrying their own copy."""
    from alembic import op
    from sqlalchemy.util import await_only

    driver_connection = op.get_bind().connection.dbapi_connection.driver_connection  # type: ignore[union-attr]
    await_only(driver_connection.execute(sql))


def rewrite_function(function: str, old: str, new: str) -> None:
    """Replace `old` by `new` in a function's definition as the database holds it (`old` must
    appear exactly once: the function is as the earlier revisions left it). Revisions 0037 and
    0040 carry their own copy; later ones call this."""
    from alembic import op
    from sqlalchemy.util import await_only

    driver = op.get_bind().connection.dbapi_connection.driver_connection  # type: ignore[union-attr]
    definition = await_only(driver.fetchval("SELECT pg_get_functiondef(CAST($1 AS regprocedure))", function))
    assert definition.count(old) == 1, f"{function} is not as the earlier revisions left it"
    run_script(definition.replace(old, new))


def refuse_changes(function: str, *, append_only: tuple[str, ...] = (), keep_rows: tuple[str, ...] = ()) -> str:
    """SQL of one trigger function refusing changes (SQLSTATE GL010, even for the owner) and its
    statement triggers: `append_only` tables refuse UPDATE, DELETE and TRUNCATE; `keep_rows`
    tables refuse DELETE and TRUNCATE but let the columns granted to the application change."""
    sql = f"""
CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'GL010';
END $$;
"""
    for table in append_only:
        sql += (f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}\n"
                f"    FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n")
        sql += (f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}\n"
                f"    FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n")
    for table in keep_rows:
        sql += (f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}\n"
                f"    FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n")
        sql += (f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}\n"
                f"    FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n")
    return sql
