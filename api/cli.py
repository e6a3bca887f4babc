"""The `grandlivre` command: serve, migrate, demo, verify, load-chart, load-delinquency-grid,
purge-idempotency-keys, create-admin, verify-audit, report, close-year, post-deposit-interest,
post-term-deposit-interest, mature-deposits, close-day."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import click

from servicing.config import Settings
from servicing.database import Database
from servicing.unit_of_work import UnitOfWorkFactory

T = TypeVar("T")
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _say(message: str) -> None:
    click.echo(message)
    sys.stdout.flush()


async def _with_database(work: Callable[[Database, UnitOfWorkFactory], Awaitable[T]], *, announce: bool = True) -> T:
    settings = Settings.from_environment()
    where = (settings.database_url and "DATABASE_URL") or f"embedded PostgreSQL in {settings.home}/pgdata"
    if announce:  # not before a report, whose output may be redirected to a CSV or JSON file
        _say(f"database: {where}")
    database = await Database.locate(settings)
    await database.migrate_async()
    engine = database.app_engine(pool_size=4)
    try:
        return await work(database, UnitOfWorkFactory(engine))
    finally:
        await engine.dispose()


@click.group()
def main() -> None:
    """Grand Livre: a double-entry core-banking ledger."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@main.command()
def migrate() -> None:
    """Create or upgrade the database schema."""

    async def work(database: Database, _uow: UnitOfWorkFactory) -> None:
        _say(f"database {database.database_name} is at the latest revision")

    asyncio.run(_with_database(work))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 32),
              help="server processes; each runs its own journal writers")
def serve(host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (OpenAPI at /schema)."""
    import uvicorn

    if workers > 1:
        # Migrate once here rather than racing in every worker's startup.
        asyncio.run(_with_database(lambda _db, _uow: asyncio.sleep(0)))
        os.environ["GRANDLIVRE_SKIP_MIGRATIONS"] = "1"
    _say(f"Grand Livre on http://{host}:{port}/api/v1 (OpenAPI: http://{host}:{port}/schema)")
    # No access log: every command, refusal and error is in the audit log already (api.audit_hook).
    uvicorn.run("api.app:create_served_app", factory=True, host=host, port=port, workers=workers, log_level="warning",
                access_log=False)


@main.command("load-chart")
@click.argument("template")
def load_chart(template: str) -> None:
    """Load a shipped chart of accounts (sfd-uemoa, generic-en)."""
    from servicing import chart

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> None:
        stored = await chart.load_chart_template(uow_factory(), template, "cli")
        _say(f"{len(stored)} accounts added from {template}")

    asyncio.run(_with_database(work))


@main.command("load-delinquency-grid")
@click.argument("template", type=click.Choice(["bceao-sfd", "generic"]))
def load_delinquency_grid(template: str) -> None:
    """Load a delinquency-grid template (bceao-sfd: the RCSFD grid; generic: 90 days non-performing)."""
    from servicing.reference.grid_templates import load_grid_template

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> None:
        grids = await load_grid_template(uow_factory, template, "cli")
        for kind, stored in grids.items():
            _say(f"{kind.value}: {len(stored)} buckets from {template}")

    asyncio.run(_with_database(work))


@main.command()
def verify() -> None:
    """Recompute everything derived from the journal; exit 1 on the first mismatch."""
    from servicing.verification import verify_journal

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> bool:
        started = time.perf_counter()
        report = await verify_journal(uow_factory)
        seconds = time.perf_counter() - started
        _say(f"checked {report.entries_checked} entries, {report.lines_checked} lines, "
             f"{report.balances_checked} cached balances, {report.period_totals_checked} period totals "
             f"and {len(report.chain_heads)} office chains in {seconds:.2f} s")
        for head in report.chain_heads:
            _say(f"chain head: office {head.office_id} position {head.position} hash {head.entry_hash or '-'}")
        for problem in report.problems:
            _say(f"MISMATCH [{problem.check}] entry={problem.entry_id} account={problem.account_code}: {problem.detail}")
        _say("journal verified: OK" if report.ok else "journal verification FAILED")
        return report.ok

    if not asyncio.run(_with_database(work)):
        raise SystemExit(1)


@main.command("purge-idempotency-keys")
def purge_idempotency_keys() -> None:
    """Delete idempotency records past their retention (they are kept at least the configured days)."""
    from sqlalchemy import text

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> None:
        async with uow_factory() as uow:
            result = await uow.session.execute(text("DELETE FROM idempotency_record WHERE expires_at < now()"))
            await uow.commit()
        _say(f"{result.rowcount} expired idempotency records deleted")  # type: ignore[attr-defined]

    asyncio.run(_with_database(work))


@main.command()
def demo() -> None:
    """Load the SFD chart, two offices and a month of entries; close the first half; print the trial balance."""
    from servicing.demo import run_demo
    from servicing.journal import JournalService
    from servicing.staff import bootstrap
    from servicing.verification import verify_journal

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> None:
        settings = Settings.from_environment()
        journal = JournalService(uow_factory, idempotency_retention_days=settings.idempotency_retention_days)
        started = time.perf_counter()
        try:
            summary = await run_demo(uow_factory, journal, _say)
        finally:
            await journal.aclose()
        _say(f"{summary.entries_posted} entries posted in {time.perf_counter() - started:.1f} s "
             f"({summary.entries_planned} in the demo month)")
        if summary.loans is not None:
            from servicing.loans.demo import reconciliation_lines

            if summary.loans.repayments:
                _say(f"loans: {summary.loans.loans_done} of {summary.loans.loans_planned} taken through "
                     f"({summary.loans.repayments} repayments, {summary.loans.loans_refused} stopped)")
            for line in reconciliation_lines(summary.loans.reconciliation):
                _say(line)
        _print_trial_balance(summary.trial_balance)
        from servicing.close_of_business.tie_out import portfolio_tie_out, tie_out_lines

        for line in tie_out_lines(await portfolio_tie_out(uow_factory)):
            _say(line)
        report = await verify_journal(uow_factory)
        _say(f"verify: {'OK' if report.ok else 'FAILED'} ({report.entries_checked} entries, {report.lines_checked} lines)")
        office_ids = {code: await bootstrap.office_id_for(uow_factory, code) for code in ("SIEGE", "AG-THIES")}
        credentials = await bootstrap.ensure_demo_users(uow_factory, _hashing(), office_ids)
        await bootstrap.enable_demo_approval_rule(uow_factory)
        for line in bootstrap.format_credentials(credentials):
            _say(line)
        _say("\nBrowse it: grandlivre serve   then open http://127.0.0.1:8000/schema/swagger; sign in with "
             "POST /api/v1/auth/sign-in and send 'Authorization: Bearer <access_token>' (see docs/security.md)")

    asyncio.run(_with_database(work))


def _print_trial_balance(rows: list) -> None:  # type: ignore[type-arg]
    _say("\nBalance générale au 31/10/2026 (XOF)")
    _say(f"{'Compte':<8} {'Intitulé':<52} {'Solde débiteur':>16} {'Solde créditeur':>16}")
    total_debit = total_credit = Decimal(0)
    for row in rows:
        total_debit += row.closing_debit
        total_credit += row.closing_credit
        _say(f"{row.account_code:<8} {row.account_name[:52]:<52} {row.closing_debit:>16,} {row.closing_credit:>16,}")
    _say(f"{'':<8} {'TOTAUX':<52} {total_debit:>16,} {total_credit:>16,}")
    _say("totals equal: " + ("yes" if total_debit == total_credit else "NO"))


def _hashing():  # type: ignore[no-untyped-def]
    from servicing.staff.config import StaffSettings
    from servicing.staff.passwords import PasswordHashing

    staff = StaffSettings.from_environment()
    return PasswordHashing(memory_kib=staff.argon2_memory_kib, time_cost=staff.argon2_time_cost)


@main.command("create-admin")
@click.option("--username", required=True, help="lower-case user name, e.g. awa.diop")
@click.option("--display-name", default=None, help="defaults to the user name")
@click.option("--office", "office_code", default=None, help="office code (default: the head office, created if none)")
@click.password_option("--password", envvar="GRANDLIVRE_ADMIN_PASSWORD",
                       help="prompted for when not given (or set GRANDLIVRE_ADMIN_PASSWORD)")
def create_admin(username: str, display_name: str | None, office_code: str | None, password: str) -> None:
    """Create an administrator; they enrol two-factor authentication at first sign-in."""
    from servicing.errors import Conflict, InvalidInput, NotFound
    from servicing.staff import bootstrap

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> None:
        user = await bootstrap.create_admin(uow_factory, _hashing(), username=username, password=password,
                                            display_name=display_name or username, office_code=office_code)
        _say(f"administrator {user.username} (id {user.user_id}) created in office {user.office_id}; "
             "sign in with POST /api/v1/auth/sign-in, then enrol 2FA (POST /api/v1/auth/totp/enrolment)")

    try:
        asyncio.run(_with_database(work))
    except (Conflict, InvalidInput, NotFound) as error:
        raise click.ClickException(f"{error.field}: {error.message}" if error.field else error.message) from error


@main.command("verify-audit")
def verify_audit() -> None:
    """Recompute the audit log's hash chain; exit 1 at the first row that does not match."""
    from servicing.staff.audit import verify_chain

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> bool:
        report = await verify_chain(uow_factory)
        _say(f"checked {report.rows_checked} audit rows; last hash {report.last_hash}")
        if report.first_break is not None:
            _say(f"MISMATCH at row {report.first_break.sequence}: {report.first_break.reason}")
        _say("audit log verified: OK" if report.ok else "audit log verification FAILED")
        return report.ok

    if not asyncio.run(_with_database(work)):
        raise SystemExit(1)


@main.command()
@click.argument("kind", type=click.Choice(["trial-balance", "general-ledger", "balance-sheet", "income-statement",
                                           "journal", "portfolio-at-risk", "loan-ageing", "provisioning"]))
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), help="balance at this date (default: today)")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="start of the period")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="end of the period (default: today)")
@click.option("--office", help="office code (default: the head office); an office includes its branches")
@click.option("--account", help="account code (general ledger: required; journal: filter)")
@click.option("--currency", help="one currency only, e.g. XOF")
@click.option("--show-zero", is_flag=True, help="trial balance: list accounts with nothing to show")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def report(kind: str, as_of, date_from, date_to, office, account, currency, show_zero, output) -> None:  # type: ignore[no-untyped-def]
    """Print an accounting report (see docs/reports.md)."""
    from api.report_cli import ReportOptions, render_report
    from ledger.errors import LedgerError

    options = ReportOptions(kind=kind, as_of=as_of and as_of.date(), date_from=date_from and date_from.date(),
                            date_to=date_to and date_to.date(), office=office, account=account, currency=currency,
                            output=output, show_zero=show_zero)
    try:
        text = asyncio.run(_with_database(lambda _db, uow_factory: render_report(uow_factory, options), announce=False))
    except LedgerError as error:
        raise click.ClickException(f"{error.field}: {error.message}" if error.field else error.message) from error
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(text)


@main.command("close-year")
@click.option("--year", type=click.IntRange(1900, 2199), required=True, help="financial (calendar) year to close")
@click.option("--office", help="office code (default: the head office); its branches are closed too")
@click.option("--retained-earnings", help="equity account receiving the result (default: 59 or 3300, see docs)")
def close_year(year: int, office: str | None, retained_earnings: str | None) -> None:
    """Close a year: move income and expenses into retained earnings by closing entries."""
    from api.report_cli import close_year_now
    from ledger.errors import LedgerError
    from servicing.journal import JournalService

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> str:
        settings = Settings.from_environment()
        journal = JournalService(uow_factory, idempotency_retention_days=settings.idempotency_retention_days)
        try:
            return await close_year_now(uow_factory, journal, year=year, office=office,
                                        retained_earnings_account=retained_earnings)
        finally:
            await journal.aclose()

    try:
        _say(asyncio.run(_with_database(work)))
    except LedgerError as error:
        raise click.ClickException(f"{error.field}: {error.message}" if error.field else error.message) from error


def _term_deposit_run(kind: str, on: str, batch_size: int) -> None:
    """Run interest posting or maturity over every due term deposit and print what it did."""
    from datetime import date as date_type

    from servicing.term_deposits import runs as term_deposit_runs

    day = date_type.fromisoformat(on)

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> None:
        started = time.perf_counter()
        run = term_deposit_runs.post_interest if kind == "interest" else term_deposit_runs.mature
        summary = await run(uow_factory, day, "cli", batch_size=batch_size)
        seconds = time.perf_counter() - started
        _say(f"{kind} on {day.isoformat()}: {summary.accounts_seen} deposits, {summary.entries_booked} entries, "
             f"{summary.amount} in {seconds:.2f} s")
        for account_id in summary.held_for_review:
            _say(f"held for review (no rate to renew at): term deposit {account_id}")

    asyncio.run(_with_database(work))


@main.command("post-term-deposit-interest")
@click.option("--date", "on", required=True, help="Post the interest of every period ended on or before this date")
@click.option("--batch-size", default=5_000, show_default=True, type=click.IntRange(1, 10_000))
def post_term_deposit_interest(on: str, batch_size: int) -> None:
    """Post term-deposit interest that is due (idempotent: a second run posts nothing)."""
    _term_deposit_run("interest", on, batch_size)


@main.command("mature-deposits")
@click.option("--date", "on", required=True, help="Apply the maturity instruction of deposits matured by this date")
@click.option("--batch-size", default=5_000, show_default=True, type=click.IntRange(1, 10_000))
def mature_deposits(on: str, batch_size: int) -> None:
    """Pay out, renew or hold every term deposit matured on or before the date."""
    _term_deposit_run("maturity", on, batch_size)


@main.command("post-deposit-interest")
@click.option("--date", "posting_date", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="post the interest of every deposit account whose posting period ends on this day")
def post_deposit_interest(posting_date) -> None:  # type: ignore[no-untyped-def]
    """Post deposit interest for a date (set-based; running it twice posts a period once)."""
    from ledger.errors import LedgerError
    from servicing.deposits.interest import post_deposit_interest as run

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> str:
        started = time.perf_counter()
        done = await run(uow_factory, posting_date.date(), "cli")
        return (f"{done.accounts_posted} accounts posted ({done.accounts_considered} read, {done.already_posted} "
                f"already posted): interest {done.interest_posted}, overdraft interest "
                f"{done.overdraft_interest_charged}, {done.entries_booked} entries in "
                f"{time.perf_counter() - started:.2f} s")

    try:
        _say(asyncio.run(_with_database(work)))
    except LedgerError as error:
        raise click.ClickException(f"{error.field}: {error.message}" if error.field else error.message) from error


@main.command("close-day")
@click.option("--date", "business_date", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="close this business day, and first every missed day since the last one closed")
@click.option("--office", "office_code", default=None,
              help="close it for this office (code) and its branches only; default: the institution")
def close_day(business_date, office_code: str | None) -> None:  # type: ignore[no-untyped-def]
    """Close of business: run the end-of-day steps for every day not yet closed through DATE
    (resumable: a run interrupted halfway is finished by the next one; a closed day is not rerun)."""
    from datetime import date as date_type

    from ledger.errors import LedgerError
    from servicing.close_of_business.run import close_business_days

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> None:
        office_id = None
        if office_code is not None:
            from servicing.staff.bootstrap import office_id_for

            office_id = await office_id_for(uow_factory, office_code)
        run = await close_business_days(uow_factory, business_date.date(), "cli", today=date_type.today(),
                                        office_id=office_id, progress=_say)
        for day in run.days:
            seconds = (day.closed_at - day.started_at).total_seconds()
            _say(f"business day {day.business_date} closed in {seconds:.2f} s:")
            for step in day.steps:
                resumed = " (done by an earlier run)" if step.resumed else ""
                _say(f"  {step.position}. {step.step}: {step.items} processed, {step.entries} entries, "
                     f"{step.seconds:.2f} s{resumed}")
        if not run.days:
            _say(f"nothing to close: {run.last_closed_before} is the last closed business day")

    try:
        asyncio.run(_with_database(work))
    except LedgerError as error:
        raise click.ClickException(f"{error.field}: {error.message}" if error.field else error.message) from error


@main.command()
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="collect everything due on or before this day")
@click.option("--chunk-size", default=500, show_default=True, type=click.IntRange(1, 5_000))
def collect(on, chunk_size: int) -> None:  # type: ignore[no-untyped-def]
    """Automatic collection: debit each loan's linked deposit account for what is due and unpaid
    (idempotent per date: a second run collects nothing)."""
    from ledger.errors import LedgerError
    from servicing.loans.collection import CollectionSummary
    from servicing.loans.collection import collect as run

    def progress(done: CollectionSummary) -> None:
        rate = done.loans_seen / done.seconds if done.seconds else 0.0
        _say(f"  {done.loans_seen} loans, collected {done.amount_collected}, missing {done.amount_missing} "
             f"({rate:.0f} loans/s)")

    async def work(_db: Database, uow_factory: UnitOfWorkFactory) -> str:
        done = await run(uow_factory, on.date(), actor="cli", chunk_size=chunk_size, progress=progress)
        return (f"collection of {done.collection_date}: {done.loans_seen} loans with something due, "
                f"{done.loans_collected_in_full} collected in full, {done.loans_collected_in_part} in part, "
                f"{done.loans_with_nothing_collected} with nothing collected; due {done.amount_due}, collected "
                f"{done.amount_collected}, missing {done.amount_missing} ({done.shortfalls} insufficient-funds "
                f"events) in {done.seconds:.2f} s")

    try:
        _say(asyncio.run(_with_database(work)))
    except LedgerError as error:
        raise click.ClickException(f"{error.field}: {error.message}" if error.field else error.message) from error


if __name__ == "__main__":
    main()
