"""`grandlivre demo`: a realistic month of a small West-African MFI (XOF, chart of the SFD
of the UEMOA): capital and a donor credit line, cash supplies to the branch, member
deposits and withdrawals, credit file fees, term deposits, rent, transport and salaries;
the deposit accounts' month (servicing.deposits.demo) and a loan portfolio disbursed from May
and repaid through October (servicing.loans.demo), each through its products' rules. Every entry goes through the journal service. The
first half of the month is then closed. Running it again posts nothing new: each entry
carries a stable reference and idempotency key."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import select, text

from ledger.db.tables import OfficeRow
from ledger.model import Line, Reference, Side
from servicing import chart, closures, offices
from servicing.commands import CloseAccountingPeriod, CreateOffice, PostJournalEntry
from servicing.deposits.demo import run_deposit_demo
from servicing.deposits.terms import today
from servicing.journal import JournalService
from servicing.loans.demo import LoanDemoSummary, close_demo_days, run_loan_demo, write_off_demo_loan
from servicing.loans.reconciliation import loan_reconciliation
from servicing.products import demo as demo_products
from servicing.reference import defaults as reference_defaults
from servicing.reports.service import ReportScope, trial_balance
from servicing.reports.trial_balance import TrialBalanceRow
from servicing.term_deposits.demo import run_term_deposit_demo
from servicing.unit_of_work import UnitOfWorkFactory

DEMO_MONTH_START: Final = date(2026, 10, 1)
DEMO_MONTH_END: Final = date(2026, 10, 31)
DEMO_CLOSING_DATE: Final = date(2026, 10, 15)
DEMO_ACTOR: Final = "demo"
DEMO_CHART: Final = "sfd-uemoa"
ENTRIES_PER_DAY: Final = 48


class DemoEntry(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    office_code: str
    value_date: date
    description: str
    lines: tuple[Line, ...]


def _xof(amount: int) -> Decimal:
    return Decimal(amount)


def _pair(debit: str, credit: str, amount: int) -> tuple[Line, ...]:
    return (
        Line(account_code=debit, side=Side.DEBIT, amount=_xof(amount), currency="XOF"),
        Line(account_code=credit, side=Side.CREDIT, amount=_xof(amount), currency="XOF"),
    )


def _working_days(start: date, end: date) -> Iterator[date]:
    day = start
    while day <= end:
        if day.weekday() < 6:  # MFIs open on Saturdays; closed on Sundays
            yield day
        day += timedelta(days=1)


def demo_month() -> list[DemoEntry]:
    """The month's entries, the same on every run (seeded generator, fixed dates)."""
    rng = random.Random(2026_10)
    entries: list[DemoEntry] = []

    def add(office: str, day: date, description: str, lines: tuple[Line, ...]) -> None:
        entries.append(DemoEntry(number=len(entries) + 1, office_code=office, value_date=day,
                                 description=description, lines=lines))

    first = DEMO_MONTH_START
    add("SIEGE", first, "Libération des parts sociales", _pair("114", "571", 50_000_000))
    add("SIEGE", first, "Tirage sur la ligne de crédit du bailleur", _pair("114", "162", 120_000_000))
    add("SIEGE", first, "Approvisionnement caisse siège", _pair("1011", "114", 15_000_000))
    add("AG-THIES", first, "Approvisionnement caisse agence de Thiès", _pair("1012", "114", 20_000_000))
    mobile_float_xof = 0

    def cash_account(office: str) -> str:
        return "1011" if office == "SIEGE" else "1012"

    for day in _working_days(first, DEMO_MONTH_END):
        for _ in range(ENTRIES_PER_DAY):
            office = "SIEGE" if rng.random() < 0.45 else "AG-THIES"
            cash = cash_account(office)
            kind = rng.choices(
                ["deposit", "withdrawal", "disbursement", "repayment", "fee", "term_deposit", "mobile"],
                weights=[30, 18, 0, 0, 6, 3, 9],  # loans: the loan demo's own, through their products
            )[0]
            if kind == "deposit":
                add(office, day, "Versement espèces sur compte membre", _pair(cash, "2511", rng.randrange(5, 400) * 500))
            elif kind == "withdrawal":
                add(office, day, "Retrait espèces sur compte membre", _pair("2511", cash, rng.randrange(5, 200) * 500))
            elif kind == "disbursement":
                add(office, day, "Décaissement de crédit sur compte membre",
                    _pair("2022", "2511", rng.randrange(10, 300) * 5_000))
            elif kind == "repayment":
                principal = rng.randrange(4, 120) * 500
                interest = principal * rng.randrange(2, 4) // 100
                add(office, day, "Remboursement d'échéance de crédit", (
                    Line(account_code="2511", side=Side.DEBIT, amount=_xof(principal + interest), currency="XOF"),
                    Line(account_code="2022", side=Side.CREDIT, amount=_xof(principal), currency="XOF"),
                    Line(account_code="7021", side=Side.CREDIT, amount=_xof(interest), currency="XOF"),
                ))
            elif kind == "fee":
                add(office, day, "Frais de dossier de crédit", _pair("2511", "7022", rng.choice([2_500, 5_000, 10_000])))
            elif kind == "term_deposit":
                # Term deposits are opened through their sub-ledger by the term-deposit demo
                # (servicing.term_deposits.demo), so that 252 reconciles; the draw is kept so the
                # rest of the month stays the same.
                rng.randrange(2, 40)
            else:
                amount = rng.randrange(2, 100) * 500
                mobile_float_xof += amount
                add(office, day, "Versement par monnaie électronique", _pair("1013", "2511", amount))
        if day.day in (5, 20):
            add("SIEGE", day, "Réapprovisionnement caisse agence", _pair("1012", "114", 5_000_000))
        if day.weekday() == 4 and mobile_float_xof >= 100_000:
            sweep = mobile_float_xof // 100_000 * 100_000
            mobile_float_xof -= sweep
            add("SIEGE", day, "Reversement monnaie électronique en banque", _pair("114", "1013", sweep))
            add("AG-THIES", day, "Frais de déplacement des agents de crédit", _pair("623", "1012", rng.randrange(20, 80) * 1_000))
    last = DEMO_MONTH_END
    add("SIEGE", last, "Loyer du siège - octobre", _pair("621", "114", 450_000))
    add("AG-THIES", last, "Loyer de l'agence de Thiès - octobre", _pair("621", "114", 250_000))
    add("SIEGE", last, "Frais de télécommunication", _pair("624", "114", 180_000))
    add("SIEGE", last, "Salaires d'octobre - siège", _pair("641", "344", 3_850_000))
    add("AG-THIES", last, "Salaires d'octobre - agence", _pair("641", "344", 2_100_000))
    add("SIEGE", last, "Paiement des salaires d'octobre", _pair("344", "114", 5_950_000))
    add("SIEGE", last, "Intérêts sur dépôts à terme - octobre", _pair("6022", "2571", 210_000))
    return entries


class DemoSummary(msgspec.Struct, frozen=True, kw_only=True):
    entries_planned: int
    entries_posted: int
    closure_created: bool
    trial_balance: list[TrialBalanceRow]
    loans: LoanDemoSummary | None = None


async def run_demo(uow_factory: UnitOfWorkFactory, journal: JournalService, progress: Callable[[str], None]) -> DemoSummary:
    loaded = await chart.load_chart_template(uow_factory(), DEMO_CHART, DEMO_ACTOR)
    progress(f"chart {DEMO_CHART}: {len(loaded)} accounts added")
    office_ids = await _ensure_offices(uow_factory, progress)
    seeded = await reference_defaults.seed_reference_defaults(uow_factory, DEMO_ACTOR)
    seeded += await reference_defaults.seed_demo_reference(uow_factory, DEMO_ACTOR)
    progress(f"reference data: {seeded} rows added (currencies, payment types, grids, charges...)")
    products = await demo_products.ensure_demo_products(uow_factory, progress)
    progress(f"{len(products)} products in the catalogue")
    planned = demo_month()
    async with uow_factory() as uow:
        done = set((await uow.session.scalars(
            text("SELECT source_id FROM journal_entry WHERE source_type = 'demo'"))).all())
    todo = [e for e in planned if str(e.number) not in done]
    progress(f"{len(planned)} entries in the month, {len(done)} already posted, {len(todo)} to post")
    posted = 0
    for day in sorted({e.value_date for e in todo}):
        day_entries = [e for e in todo if e.value_date == day]
        await journal.post_batch([
            PostJournalEntry(
                office_id=office_ids[e.office_code], value_date=e.value_date, description=e.description,
                lines=e.lines, actor=DEMO_ACTOR, reference=Reference(source_type="demo", source_id=str(e.number)),
                idempotency_key=f"demo-2026-10-{e.number:05d}", manual=False,
            )
            for e in day_entries
        ])
        posted += len(day_entries)
        progress(f"  {day.isoformat()}: {len(day_entries):3d} entries posted ({posted}/{len(todo)})")
    await run_deposit_demo(uow_factory, office_ids["AG-THIES"], progress)  # before the books close
    loans = await run_loan_demo(uow_factory, office_ids, progress)  # May to October: before the books close too
    progress("close of business: every day of the loans' period, in order...")
    closed_days = await close_demo_days(uow_factory, progress, today=today())  # before the books close as well
    written_off = await write_off_demo_loan(uow_factory, office_ids, progress, today=today())
    if closed_days or written_off is not None:
        loans = msgspec.structs.replace(loans, reconciliation=await loan_reconciliation(uow_factory()))
    await run_term_deposit_demo(uow_factory, office_ids["AG-THIES"], today(), progress)
    closure_created = False
    existing = await closures.list_closures(uow_factory(), office_ids["SIEGE"])
    if not any(r.closure.closing_date >= DEMO_CLOSING_DATE for r in existing):
        await closures.close_period(uow_factory(), CloseAccountingPeriod(
            office_id=office_ids["SIEGE"], closing_date=DEMO_CLOSING_DATE, actor=DEMO_ACTOR,
            comments="Clôture de la première quinzaine d'octobre 2026"))
        closure_created = True
    progress(f"books closed through {DEMO_CLOSING_DATE.isoformat()} (head office and its branches)")
    report = await trial_balance(uow_factory(), ReportScope(office_id=office_ids["SIEGE"], date_to=DEMO_MONTH_END))
    rows = [row for row in report.report.rows if not row.is_header]
    return DemoSummary(entries_planned=len(planned), entries_posted=posted, closure_created=closure_created,
                       trial_balance=rows, loans=loans)


async def _ensure_offices(uow_factory: UnitOfWorkFactory, progress: Callable[[str], None]) -> dict[str, int]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(select(OfficeRow.code, OfficeRow.id))).all()
        known = {row.code: row.id for row in rows}
        head_office = (await uow.session.scalar(select(OfficeRow.code).where(OfficeRow.parent_id.is_(None))))
    if "SIEGE" not in known:
        if head_office is not None:
            raise RuntimeError(f"this database has another head office ({head_office}); run the demo on a fresh one")
        office = await offices.create_office(uow_factory(), CreateOffice(
            code="SIEGE", name="Siège - Dakar", region="Dakar", opened_on=date(2026, 1, 1), actor=DEMO_ACTOR))
        known["SIEGE"] = office.office_id
        progress("office SIEGE created")
    if "AG-THIES" not in known:
        office = await offices.create_office(uow_factory(), CreateOffice(
            code="AG-THIES", name="Agence de Thiès", region="Thiès", parent_id=known["SIEGE"],
            opened_on=date(2026, 1, 1), actor=DEMO_ACTOR))
        known["AG-THIES"] = office.office_id
        progress("office AG-THIES created")
    return known
