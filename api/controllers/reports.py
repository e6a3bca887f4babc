"""Accounting reports (trial balance, general ledger, journal, balance sheet, income
statement) and journal verification. Each report covers the user's office and its branches
unless a branch is asked for, and answers JSON, or CSV with `?format=csv` or
`Accept: text/csv` (`;`-separated, UTF-8 with BOM, for spreadsheets)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from litestar import Controller, Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter

from api.schemas import reports as schemas
from api.schemas.common import DATE_MAX, DATE_MIN, INT32_MAX
from api.schemas.journal import JournalEntryOut, JournalEntryPageOut
from api.schemas.problems import PROBLEM_RESPONSES
from ledger.limits import ACTOR_LENGTH_MAX, PAGE_SIZE_MAX, REFERENCE_LENGTH_MAX
from servicing import queries
from servicing.errors import InvalidInput
from servicing.reports import service
from servicing.reports.csv_export import Cell, to_csv
from servicing.reports.general_ledger import LedgerQuery, general_ledger, whole_general_ledger
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory
from servicing.verification import VerificationReport, verify_journal

CSV_LINES_MAX: Final = 200_000
"""A CSV export of the general ledger or the journal stops here: narrow the period beyond it."""
CSV_MEDIA_TYPE: Final = "text/csv; charset=utf-8"

Format = Annotated[Literal["json", "csv"] | None, Parameter(
    query="format", required=False, description="csv for a spreadsheet export (or send Accept: text/csv)")]
OfficeId = Annotated[int | None, Parameter(query="office_id", ge=1, le=INT32_MAX, required=False,
                                           description="Default: your office; an office includes its branches")]
Currency = Annotated[str | None, Parameter(query="currency", pattern=r"^[A-Z]{3}$", required=False)]
DateFrom = Annotated[date | None, Parameter(query="from", required=False)]
DateTo = Annotated[date | None, Parameter(query="to", required=False)]
AsOf = Annotated[date | None, Parameter(query="as_of", required=False)]
AccountCode = Annotated[str, Parameter(query="account_code", min_length=1, max_length=30,
                                       pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$")]
Amount = Annotated[str | None, Parameter(required=False, pattern=r"^[0-9]{1,18}(\.[0-9]{1,4})?$")]


def _responses(body: type) -> dict[int, ResponseSpec]:
    return {200: ResponseSpec(data_container=body, description="The report (JSON); `format=csv` or "
                              "`Accept: text/csv` gives it as CSV"), **PROBLEM_RESPONSES}


def _check_dates(**dates: date | None) -> None:
    for name, value in dates.items():
        if value is not None and not DATE_MIN <= value <= DATE_MAX:
            raise InvalidInput(f"{name} must be between {DATE_MIN} and {DATE_MAX}", field=name)


def _wants_csv(request: Request[Any, Any, Any], fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("accept", "")


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Response[Any]:
    return Response(content=to_csv(header, rows).encode(), media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _amount(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


class ReportController(Controller):
    path = "/api/v1"
    tags = ["Reports"]  # noqa: RUF012  (Litestar reads a list)

    @get(responses=_responses(schemas.TrialBalanceOut), opt={"permission": "reports:read"},
         path="/reports/trial-balance",
         summary="Trial balance: opening balance, debits, credits and closing balance per account and currency")
    async def trial_balance(
        self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory, office_scope: OfficeScope,
        as_of: AsOf = None, date_from: DateFrom = None, date_to: DateTo = None, office_id: OfficeId = None,
        currency: Currency = None,
        show_zero: Annotated[bool, Parameter(query="show_zero", description="list accounts with nothing to show")] = False,
        fmt: Format = None,
    ) -> Response[Any]:
        """With `as_of` (or only `to`): every line up to that date. With `from` and `to`: the
        balance before `from` as opening, the movements of the period, the closing balance."""
        _check_dates(as_of=as_of, **{"from": date_from, "to": date_to})
        if as_of is not None and (date_from is not None or date_to is not None):
            raise InvalidInput("give either as_of, or from and to", field="as_of")
        scope = service.ReportScope(office_id=office_scope.narrow(office_id), date_from=date_from,
                                    date_to=as_of or date_to or date.today(), currency=currency)
        out = schemas.TrialBalanceOut.from_report(await service.trial_balance(uow_factory(), scope, show_zero=show_zero))
        if _wants_csv(request, fmt):
            return _csv("balance-generale", schemas.TRIAL_BALANCE_CSV, schemas.trial_balance_rows(out))
        return Response(out)

    @get(responses=_responses(schemas.GeneralLedgerOut), opt={"permission": "reports:read"},
         path="/reports/general-ledger",
         summary="General ledger of an account (or a header and its children): opening, lines, running and closing balance")
    async def general_ledger(
        self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory, office_scope: OfficeScope,
        account_code: AccountCode, date_from: DateFrom = None, date_to: DateTo = None, office_id: OfficeId = None,
        currency: Currency = None,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=PAGE_SIZE_MAX)] = 100,
        cursor: Annotated[str | None, Parameter(query="cursor", max_length=1000, required=False)] = None,
        fmt: Format = None,
    ) -> Response[Any]:
        """`from` defaults to 1 January of `to`'s year, `to` to today. CSV exports the whole period."""
        _check_dates(**{"from": date_from, "to": date_to})
        date_to = date_to or date.today()
        query = LedgerQuery(account_code=account_code, office_id=office_scope.narrow(office_id),
                            date_from=date_from or service.start_of_year(date_to), date_to=date_to, currency=currency)
        if not _wants_csv(request, fmt):
            page = await general_ledger(uow_factory(), query, limit=limit, cursor=cursor)
            return Response(schemas.GeneralLedgerOut.from_page(page))
        whole = await whole_general_ledger(uow_factory, query, lines_max=CSV_LINES_MAX)
        rows = schemas.general_ledger_rows(whole.opening, whole.lines, whole.closing, query.date_from, query.date_to)
        return _csv("grand-livre", schemas.GENERAL_LEDGER_CSV, rows)

    @get(responses=_responses(JournalEntryPageOut), opt={"permission": "journal:read"},
         path="/reports/journal", summary="Journal: entries with their lines, filtered, in booking order with a stable cursor")
    async def journal(
        self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory, office_scope: OfficeScope,
        date_from: DateFrom = None, date_to: DateTo = None, office_id: OfficeId = None,
        account_code: Annotated[str | None, Parameter(query="account_code", max_length=30, required=False,
                                                      pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$")] = None,
        source_type: Annotated[str | None, Parameter(query="source_type", max_length=REFERENCE_LENGTH_MAX,
                                                     required=False, pattern=r"^[\x21-\x7e]+$")] = None,
        reference: Annotated[str | None, Parameter(query="reference", max_length=REFERENCE_LENGTH_MAX, required=False,
                                                   pattern=r"^[\x21-\x7e]+$",
                                                   description="the entry's source id, e.g. a loan number")] = None,
        amount_min: Annotated[Amount, Parameter(query="amount_min")] = None,
        amount_max: Annotated[Amount, Parameter(query="amount_max")] = None,
        actor_filter: Annotated[str | None, Parameter(query="actor", max_length=ACTOR_LENGTH_MAX, required=False,
                                                      pattern=r"^[\x20-\x7e]+$")] = None,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=PAGE_SIZE_MAX)] = 100,
        cursor: Annotated[str | None, Parameter(query="cursor", max_length=64, required=False)] = None,
        fmt: Format = None,
    ) -> Response[Any]:
        """An entry matches the amount range when one of its lines does. CSV has one row per line."""
        _check_dates(**{"from": date_from, "to": date_to})
        service.check_period(date_from, date_to or DATE_MAX)
        low, high = _amount(amount_min), _amount(amount_max)
        if low is not None and high is not None and low > high:
            raise InvalidInput("amount_min is above amount_max", field="amount_min")
        filters = queries.EntryFilter(
            date_from=date_from, date_to=date_to, office_id=office_scope.narrow(office_id), account_code=account_code,
            source_type=source_type, source_id=reference, actor=actor_filter, amount_min=low, amount_max=high,
        )
        if _wants_csv(request, fmt):
            entries = await service.whole_journal(uow_factory, filters, entries_max=CSV_LINES_MAX)
            return _csv("journal", schemas.JOURNAL_CSV, schemas.journal_rows(
                JournalEntryOut.from_booked(b, with_balances=False) for b in entries))
        page = await service.journal_page(uow_factory, filters, limit=limit, cursor=cursor)
        return Response(JournalEntryPageOut(items=[JournalEntryOut.from_booked(b, with_balances=False)
                                                   for b in page.entries], next_cursor=page.next_cursor))

    @get(responses=_responses(schemas.BalanceSheetOut), opt={"permission": "reports:read"},
         path="/reports/balance-sheet", summary="Balance sheet at a date, the year's result carried into equity")
    async def balance_sheet(
        self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory, office_scope: OfficeScope,
        as_of: AsOf = None, office_id: OfficeId = None, currency: Currency = None, fmt: Format = None,
    ) -> Response[Any]:
        _check_dates(as_of=as_of)
        scope = service.ReportScope(office_id=office_scope.narrow(office_id), date_to=as_of or date.today(),
                                    currency=currency)
        out = schemas.BalanceSheetOut.from_report(await service.balance_sheet(uow_factory(), scope))
        if _wants_csv(request, fmt):
            return _csv("bilan", schemas.STATEMENT_CSV, schemas.balance_sheet_rows(out))
        return Response(out)

    @get(responses=_responses(schemas.IncomeStatementOut), opt={"permission": "reports:read"},
         path="/reports/income-statement",
         summary="Income statement over a period (year-end closing entries left out)")
    async def income_statement(
        self, request: Request[Any, Any, Any], uow_factory: UnitOfWorkFactory, office_scope: OfficeScope,
        date_from: DateFrom = None, date_to: DateTo = None, office_id: OfficeId = None, currency: Currency = None,
        fmt: Format = None,
    ) -> Response[Any]:
        """`from` defaults to 1 January of `to`'s year, `to` to today."""
        _check_dates(**{"from": date_from, "to": date_to})
        scope = service.ReportScope(office_id=office_scope.narrow(office_id), date_from=date_from,
                                    date_to=date_to or date.today(), currency=currency)
        out = schemas.IncomeStatementOut.from_report(await service.income_statement(uow_factory(), scope))
        if _wants_csv(request, fmt):
            return _csv("compte-de-resultat", schemas.STATEMENT_CSV, schemas.income_statement_rows(out))
        return Response(out)

    @get(responses=PROBLEM_RESPONSES, opt={"permission": "ledger:verify"}, path="/ledger/verify", summary="Recompute what is derived from the journal and report mismatches")
    async def verify(self, uow_factory: UnitOfWorkFactory) -> VerificationReport:
        return await verify_journal(uow_factory)
