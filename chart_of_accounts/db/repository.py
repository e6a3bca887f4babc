"""Reading and writing GL accounts. Never commits: the caller's unit of work does."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from chart_of_accounts.db.tables import GLAccountRow
from chart_of_accounts.model import AccountType, AccountUsage, GLAccount
from chart_of_accounts.tree import parents_first

StoredAccount = tuple[int, GLAccount]
_Parent = aliased(GLAccountRow)


def _to_account(row: GLAccountRow, parent_code: str | None) -> GLAccount:
    return GLAccount(
        code=row.code,
        name=row.name,
        type=AccountType(row.type),
        usage=AccountUsage.HEADER if row.is_header else AccountUsage.DETAIL,
        parent_code=parent_code,
        currency=row.currency.strip() if row.currency else None,
        manual_entries_allowed=row.manual_entries_allowed,
        active=row.active,
        tags=tuple(row.tags),
        description=row.description,
    )


def _select_accounts():  # type: ignore[no-untyped-def]
    return select(GLAccountRow, _Parent.code).outerjoin(_Parent, _Parent.id == GLAccountRow.parent_id)


async def load_by_codes(session: AsyncSession, codes: Iterable[str]) -> dict[str, StoredAccount]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = (await session.execute(_select_accounts().where(GLAccountRow.code.in_(wanted)))).all()
    return {row[0].code: (row[0].id, _to_account(row[0], row[1])) for row in rows}


async def load_all(session: AsyncSession) -> list[StoredAccount]:
    rows = (await session.execute(_select_accounts().order_by(GLAccountRow.code))).all()
    return [(row[0].id, _to_account(row[0], row[1])) for row in rows]


async def insert_accounts(session: AsyncSession, accounts: Sequence[GLAccount]) -> list[StoredAccount]:
    """Insert accounts whose chart rules were checked; parents go before their children."""
    ids = {code: stored[0] for code, stored in (await load_by_codes(
        session, [a.parent_code for a in accounts if a.parent_code])).items()}
    stored: list[StoredAccount] = []
    for account in parents_first(accounts):
        row = GLAccountRow(
            code=account.code,
            name=account.name,
            type=account.type.value,
            is_header=account.is_header,
            parent_id=ids.get(account.parent_code) if account.parent_code else None,
            currency=account.currency,
            manual_entries_allowed=account.manual_entries_allowed,
            active=account.active,
            tags=list(account.tags),
            description=account.description,
        )
        session.add(row)
        await session.flush()
        ids[account.code] = row.id
        stored.append((row.id, account))
    return stored


async def update_account(session: AsyncSession, account_id: int, account: GLAccount, parent_id: int | None) -> None:
    row = await session.get(GLAccountRow, account_id)
    assert row is not None
    row.name = account.name
    row.type = account.type.value
    row.is_header = account.is_header
    row.parent_id = parent_id
    row.currency = account.currency
    row.manual_entries_allowed = account.manual_entries_allowed
    row.active = account.active
    row.tags = list(account.tags)
    row.description = account.description
    await session.flush()


async def delete_account(session: AsyncSession, account_id: int) -> None:
    row = await session.get(GLAccountRow, account_id)
    assert row is not None
    await session.delete(row)
    await session.flush()
