"""Trial balance and journal verification (the accounting reports issue extends these).
A trial balance covers the user's office and its branches unless a branch is asked for."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.params import Parameter

from api.schemas.common import DATE_MAX, DATE_MIN, INT32_MAX
from api.schemas.problems import PROBLEM_RESPONSES
from servicing import queries
from servicing.errors import InvalidInput
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory
from servicing.verification import VerificationReport, verify_journal


class TrialBalanceLineOut(msgspec.Struct, kw_only=True):
    account_code: str
    account_name: str
    account_type: str
    currency: str
    debit_total: Decimal
    credit_total: Decimal
    debit_balance: Decimal
    credit_balance: Decimal


class TrialBalanceTotalOut(msgspec.Struct, kw_only=True):
    currency: str
    debit_balance: Decimal
    credit_balance: Decimal
    balanced: bool


class TrialBalanceOut(msgspec.Struct, kw_only=True):
    as_of: date | None
    office_id: int | None
    lines: list[TrialBalanceLineOut]
    totals: list[TrialBalanceTotalOut]


class ReportController(Controller):
    path = "/api/v1"
    tags = ["Reports"]  # noqa: RUF012  (Litestar reads a list)

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "reports:read"}, path="/reports/trial-balance", summary="Trial balance per detail account and currency")
    async def trial_balance(
        self,
        uow_factory: UnitOfWorkFactory,
        office_scope: OfficeScope,
        as_of: Annotated[date | None, Parameter(query="as_of", required=False)] = None,
        office_id: Annotated[int | None, Parameter(query="office_id", ge=1, le=INT32_MAX, required=False)] = None,
    ) -> TrialBalanceOut:
        if as_of is not None and not DATE_MIN <= as_of <= DATE_MAX:
            raise InvalidInput(f"as_of must be between {DATE_MIN} and {DATE_MAX}", field="as_of")
        office_id = office_scope.narrow(office_id)
        async with uow_factory() as uow:
            rows = await queries.trial_balance(uow.session, as_of=as_of, office_id=office_id)
        totals: dict[str, list[Decimal]] = {}
        for row in rows:
            total = totals.setdefault(row.currency, [Decimal(0), Decimal(0)])
            total[0] += row.debit_balance
            total[1] += row.credit_balance
        return TrialBalanceOut(
            as_of=as_of, office_id=office_id,
            lines=[TrialBalanceLineOut(account_code=r.account_code, account_name=r.account_name,
                                       account_type=r.account_type, currency=r.currency, debit_total=r.debit_total,
                                       credit_total=r.credit_total, debit_balance=r.debit_balance,
                                       credit_balance=r.credit_balance) for r in rows],
            totals=[TrialBalanceTotalOut(currency=c, debit_balance=t[0], credit_balance=t[1], balanced=t[0] == t[1])
                    for c, t in sorted(totals.items())],
        )

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "ledger:verify"}, path="/ledger/verify", summary="Recompute what is derived from the journal and report mismatches")
    async def verify(self, uow_factory: UnitOfWorkFactory) -> VerificationReport:
        return await verify_journal(uow_factory)
