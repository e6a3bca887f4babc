"""Chart-of-accounts commands: create, update, delete, load a template, import CSV."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from chart_of_accounts import GLAccount, chart_to_csv, check_chart, load_template, parse_chart_csv
from chart_of_accounts.db import repository
from chart_of_accounts.templates import TEMPLATES
from servicing.commands import CreateGLAccounts, DeleteGLAccount, UpdateGLAccount
from servicing.errors import ChartRejected, Conflict, NotFound, translate_database_error
from servicing.unit_of_work import UnitOfWork

StoredAccount = repository.StoredAccount


async def create_accounts(uow: UnitOfWork, command: CreateGLAccounts) -> list[StoredAccount]:
    """Add accounts to the chart in one transaction: all of them or none."""
    async with uow:
        existing = {account.code: account for _id, account in await repository.load_all(uow.session)}
        accounts = list(command.accounts)
        if command.skip_existing:
            accounts = [a for a in accounts if a.code not in existing]
        else:
            taken = [a.code for a in accounts if a.code in existing]
            if taken:
                raise Conflict(f"account code {taken[0]!r} exists", field="code")
        problems = check_chart(accounts, existing)
        if problems:
            raise ChartRejected(
                f"{len(problems)} problem(s) in the chart; first: {problems[0].code}: {problems[0].message}",
                problems=[{"code": p.code, "field": p.field, "message": p.message} for p in problems],
                field=problems[0].field,
            )
        try:
            stored = await repository.insert_accounts(uow.session, accounts)
        except DBAPIError as error:
            raise translate_database_error(error) or error from error
        await uow.commit()
    return stored


async def load_chart_template(uow: UnitOfWork, name: str, actor: str) -> list[StoredAccount]:
    if name not in TEMPLATES:
        raise NotFound(f"unknown template {name!r}; known: {', '.join(TEMPLATES)}", field="name")
    command = CreateGLAccounts(accounts=tuple(load_template(name)), actor=actor, skip_existing=True)
    return await create_accounts(uow, command)


async def import_chart_csv(uow: UnitOfWork, csv_text: str, actor: str) -> list[StoredAccount]:
    accounts, problems = parse_chart_csv(csv_text)
    if problems:
        raise ChartRejected(
            f"{len(problems)} problem(s) in the file; first: row {problems[0].row}: {problems[0].message}",
            problems=[{"row": str(p.row), "field": p.field, "message": p.message} for p in problems],
            field=problems[0].field,
        )
    return await create_accounts(uow, CreateGLAccounts(accounts=tuple(accounts), actor=actor))


async def list_accounts(uow: UnitOfWork) -> list[StoredAccount]:
    async with uow:
        return await repository.load_all(uow.session)


async def export_chart_csv(uow: UnitOfWork) -> str:
    return chart_to_csv(account for _id, account in await list_accounts(uow))


async def get_account(uow: UnitOfWork, code: str) -> StoredAccount:
    async with uow:
        found = await repository.load_by_codes(uow.session, [code])
    if code not in found:
        raise NotFound(f"unknown account {code!r}", field="code")
    return found[code]


async def update_account(uow: UnitOfWork, command: UpdateGLAccount) -> StoredAccount:
    """Change an account: read, merge and write in one transaction with the row locked, so
    concurrent changes cannot undo each other. PostgreSQL refuses a new type or usage once
    the account has postings."""
    async with uow:
        await uow.session.execute(
            text("SELECT id FROM gl_account WHERE code = :code FOR UPDATE"), {"code": command.code})
        chart = {account.code: (account_id, account) for account_id, account in await repository.load_all(uow.session)}
        if command.code not in chart:
            raise NotFound(f"unknown account {command.code!r}", field="code")
        account_id, current = chart[command.code]
        account: GLAccount = command.changes.apply_to(current)
        others = {code: acc for code, (_i, acc) in chart.items() if code != command.code}
        problems = check_chart([account], others)
        if problems:
            raise ChartRejected(
                problems[0].message,
                problems=[{"code": p.code, "field": p.field, "message": p.message} for p in problems],
                field=problems[0].field,
            )
        parent_id = chart[account.parent_code][0] if account.parent_code else None
        try:
            await repository.update_account(uow.session, account_id, account, parent_id)
        except DBAPIError as error:
            raise translate_database_error(error) or error from error
        await uow.commit()
    return account_id, account


async def delete_account(uow: UnitOfWork, command: DeleteGLAccount) -> None:
    async with uow:
        found = await repository.load_by_codes(uow.session, [command.code])
        if command.code not in found:
            raise NotFound(f"unknown account {command.code!r}", field="code")
        try:
            await repository.delete_account(uow.session, found[command.code][0])
        except DBAPIError as error:
            translated = translate_database_error(error)
            if translated is None and "foreign key" in str(error):
                translated = Conflict(f"account {command.code} has child accounts", field="code")
            raise translated or error from error
        await uow.commit()
