"""The demo's loan portfolio: a few hundred loans on the three demo loan products, in both
offices, applied for, checked, approved (by a branch manager, never the loan officer who
recorded them), disbursed from May to September 2026 and repaid through October: most on
time, some late or partly, some paid off early, a few not at all. Then the loan reconciliation.

Everything goes through the loan services, so the demo exercises the rules the API applies
(eligibility, four eyes, the product's posting rules, allocation); a few loans disbursed from
January are never repaid, so the close of business finds loans in the grid's older buckets.
Every business day of the period is then closed (`close_demo_days`). Deterministic (seeded)
and idempotent: each loan carries its demo number in its purpose, and a second run skips the
numbers already there. Loans run a few at a time, each loan's events in date order.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import text

from ledger.errors import LedgerError
from ledger.money import normalize_amount
from products.loans.model import Schedule
from products.loans.product import LoanProduct
from products.loans.requirements import loan_requirements
from servicing.clients.model import ClientType
from servicing.deposits import accounts as deposit_accounts
from servicing.deposits import movements as deposit_movements
from servicing.deposits.commands import Deposit, OpenDepositAccount
from servicing.deposits.demo import _profile, _savings_product, onboard_in_order
from servicing.errors import Conflict
from servicing.loans import applications, deposit_link, movements
from servicing.loans.applications import Checker
from servicing.loans.model import (
    ApplicationDetails,
    Collateral,
    Disburse,
    FundsChannel,
    LoanApplication,
    Repay,
)
from servicing.loans.reconciliation import LoanReconciliation, loan_reconciliation
from servicing.products import demo as demo_products
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

AGRICULTURAL: Final = "Crédit agricole campagne"
SALARY: Final = "Crédit salaire"
GROUP: Final = "Crédit groupe solidaire"
LOANS_PER_PRODUCT: Final = {AGRICULTURAL: 90, SALARY: 140, GROUP: 60}
EARLY_DEFAULTS: Final = 6
EARLY_DEFAULTS_FROM: Final = date(2026, 1, 12)
"""Loans disbursed from January that are never repaid: the demo's older arrears buckets."""
HEAD_OFFICE_BORROWERS: Final = 60
"""Salaried borrowers onboarded at the head office (SIEGE); the others are the Thiès branch's
clients of the deposit demo."""
CONCURRENT_LOANS: Final = 8
FIRST_DISBURSEMENT: Final = date(2026, 5, 4)
LAST_DISBURSEMENT: Final = date(2026, 9, 25)
REPAID_THROUGH: Final = date(2026, 10, 31)
OFFICER: Final = "demo.loan-officer"
MANAGER: Final = "demo.branch-manager"
DEMO_CLOSE_ACTOR: Final = "demo.close-of-business"
SAVINGS_LEAD_DAYS: Final = 14
"""Days before the disbursement the borrower of a product asking for deposits opens the savings
account and pays in what the product requires (mandatory savings, cash collateral, own funds)."""
MARK: Final = "démo n° "
"""Every demo application's purpose ends with this and its number: how a second run finds it."""


class LoanPlan(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    product: str
    client_id: int
    principal: Decimal
    repayment_count: int
    rate_percent: Decimal
    disbursed_on: date
    behaviour: str
    """regular, late, partial, early (paid off early) or silent (never pays)."""
    co_signers: tuple[int, ...] = ()
    collateral: tuple[Collateral, ...] = ()


class LoanDemoSummary(msgspec.Struct, frozen=True, kw_only=True):
    loans_planned: int
    loans_done: int
    loans_refused: int
    repayments: int
    reconciliation: LoanReconciliation


def _working_day(day: date) -> date:
    return day + timedelta(days=1) if day.weekday() == 6 else day


def plan_portfolio(individuals: list[int], businesses: list[int], members: dict[int, tuple[int, ...]],
                   head_office: list[int]) -> list[LoanPlan]:
    """The portfolio, the same on every run for the same clients (seeded). Pure."""
    rng = random.Random(2026_05)
    span = (LAST_DISBURSEMENT - FIRST_DISBURSEMENT).days
    grouped = [c for c in individuals if c in members]
    plans: list[LoanPlan] = []

    def behaviour() -> str:
        return rng.choices(["regular", "late", "partial", "early", "silent"], weights=[60, 16, 8, 11, 5])[0]

    def when() -> date:
        return _working_day(FIRST_DISBURSEMENT + timedelta(days=rng.randrange(span)))

    for n, client_id in enumerate(grouped[:LOANS_PER_PRODUCT[GROUP]]):
        others = [m for m in members[client_id] if m != client_id]
        extra = grouped[(n + 97) % len(grouped)]
        plans.append(LoanPlan(number=len(plans) + 1, product=GROUP, client_id=client_id,
                              principal=Decimal(rng.randrange(10, 60) * 5_000), repayment_count=rng.choice([8, 10, 12]),
                              rate_percent=Decimal(7), disbursed_on=when(), behaviour=behaviour(),
                              co_signers=tuple(dict.fromkeys([*others, extra]))[:2]))
    for client_id in businesses[:LOANS_PER_PRODUCT[AGRICULTURAL]]:
        principal = Decimal(rng.randrange(20, 200) * 5_000)
        plans.append(LoanPlan(number=len(plans) + 1, product=AGRICULTURAL, client_id=client_id, principal=principal,
                              repayment_count=rng.choice([6, 9, 12]), rate_percent=Decimal(12),
                              disbursed_on=when(), behaviour=behaviour(),
                              collateral=(Collateral(collateral_type="stock", value=principal * Decimal("0.4"),
                                                     description="Stock de semences et d'engrais"),)))
    salaried = [c for c in individuals if c not in set(grouped[:LOANS_PER_PRODUCT[GROUP]])] + businesses[
        LOANS_PER_PRODUCT[AGRICULTURAL]:]
    borrowers = head_office + salaried
    for client_id in borrowers[:LOANS_PER_PRODUCT[SALARY]]:
        plans.append(LoanPlan(number=len(plans) + 1, product=SALARY, client_id=client_id,
                              principal=Decimal(rng.randrange(4, 60) * 50_000),
                              repayment_count=rng.choice([6, 12, 12, 18, 24, 30, 36]), rate_percent=Decimal(15),
                              disbursed_on=when(), behaviour=behaviour()))
    # A few salaried borrowers who lost their job early in the year and never paid: by October
    # they are six to nine months late, in the grid's older buckets (doubtful, provisioned).
    for n, client_id in enumerate(borrowers[LOANS_PER_PRODUCT[SALARY]:][:EARLY_DEFAULTS]):
        plans.append(LoanPlan(number=len(plans) + 1, product=SALARY, client_id=client_id,
                              principal=Decimal(rng.randrange(4, 20) * 50_000), repayment_count=12,
                              rate_percent=Decimal(15), disbursed_on=_working_day(EARLY_DEFAULTS_FROM + timedelta(
                                  days=14 * n)), behaviour="silent"))
    return plans


def _payments(plan: LoanPlan, schedule: Schedule, rng: random.Random) -> list[tuple[date, Decimal | None]]:
    """(value date, amount) of each repayment through October; ``None`` asks for the payoff."""
    due = [i for i in schedule.instalments if i.due_date <= REPAID_THROUGH]
    out: list[tuple[date, Decimal | None]] = []
    if plan.behaviour == "silent":
        return out
    payoff_at = rng.randrange(1, max(len(due), 2)) if plan.behaviour == "early" else None
    carried = Decimal(0)
    for index, instalment in enumerate(due):
        day = instalment.due_date - timedelta(days=rng.randrange(0, 3))
        amount = instalment.total_amount
        if plan.behaviour == "late":
            if rng.random() < 0.35:
                carried += amount
                continue
            day = instalment.due_date + timedelta(days=rng.randrange(5, 25))
            amount += carried
            carried = Decimal(0)
        elif plan.behaviour == "partial":
            amount = (amount * Decimal("0.6")).quantize(Decimal(25))
        if payoff_at is not None and index == payoff_at:
            out.append((min(_working_day(day), REPAID_THROUGH), None))
            return out
        out.append((min(_working_day(max(day, plan.disbursed_on)), REPAID_THROUGH), amount))
    return out


async def _deposits_first(uow_factory: UnitOfWorkFactory, plan: LoanPlan, product_id: int,
                          savings_product_id: int, actor: str) -> tuple[int | None, bool]:
    """What a loan officer asks of a borrower before the file goes to committee when the product
    wants money on deposit (seed 002: mandatory savings, cash collateral, own-funds guarantee):
    a savings account opened a fortnight before the disbursement, and the amount required paid
    in, above the account's minimum balance. Answers the account (None when the product asks
    for nothing) and whether the product holds part of it while the loan runs (then the loan is
    disbursed into that account, which becomes its linked account)."""
    async with uow_factory() as uow:
        version = await uow.session.scalar(text("SELECT max(version) FROM product_version WHERE product_id = :id"),
                                           {"id": product_id})
        product: LoanProduct = await applications.get_product_in(uow, product_id, int(version))
    requirements = loan_requirements(product, plan.principal)
    asked = [requirements.mandatory_savings_amount, requirements.cash_collateral_min_amount,
             requirements.guarantee_own_funds_min_amount]
    total = sum((amount for amount in asked if amount is not None), Decimal(0))
    if total == 0:
        return None, False
    opened_on = _working_day(plan.disbursed_on - timedelta(days=SAVINGS_LEAD_DAYS))
    opened = await deposit_accounts.open_account(uow_factory, OpenDepositAccount(
        client_id=plan.client_id, product_id=savings_product_id, actor=actor, opened_on=opened_on))
    account_id = opened.account.account_id
    await deposit_accounts.activate(uow_factory(), account_id, actor, activated_on=opened_on)
    await deposit_movements.deposit(uow_factory(), Deposit(
        account_id=account_id, amount=total + opened.account.minimum_balance, actor=actor, value_date=opened_on,
        description=f"Épargne préalable au crédit ({MARK}{plan.number:04d})",
        idempotency_key=f"demo-loan-savings-{plan.number}"))
    return account_id, bool(deposit_link.required_holds(requirements))


SECTORS_BY_PRODUCT: Final = {
    "Crédit agricole campagne": ("Agriculture, élevage et pêche",),
    "Crédit groupe solidaire": ("Commerce", "Artisanat et transformation"),
    "Crédit salaire": ("Commerce", "Services", "Transport"),
}
"""The activity sector each demo loan finances (reference data names), so the portfolio at risk
by sector has more than one line."""


def _sector(plan: LoanPlan) -> str:
    choices = SECTORS_BY_PRODUCT.get(plan.product, ("Commerce",))
    return choices[plan.number % len(choices)]


async def _run_one(uow_factory: UnitOfWorkFactory, plan: LoanPlan, product_id: int, *, maker: Checker,
                   checker: Checker, scope: OfficeScope, payment_types: tuple[int, int],
                   savings_product_id: int, sector_id: int | None = None) -> int:
    """One loan from application to its last repayment; the number of repayments taken."""
    rng = random.Random(plan.number)
    account_id, held = await _deposits_first(uow_factory, plan, product_id, savings_product_id, maker.username)
    record = await applications.create_application(uow_factory, LoanApplication(
        client_id=plan.client_id, product_id=product_id, expected_disbursement_date=plan.disbursed_on,
        principal_amount=plan.principal, repayment_count=plan.repayment_count, interest_rate_percent=plan.rate_percent,
        details=ApplicationDetails(purpose=f"Fonds de roulement ({MARK}{plan.number:04d})",
                                   activity_sector_id=sector_id, co_signers=plan.co_signers,
                                   collateral=plan.collateral)),
        actor=maker.username, actor_user_id=maker.user_id, scope=scope)
    loan_id = record.loan_id
    await applications.submit(uow_factory, loan_id, actor=maker.username, scope=scope)
    await applications.approve(uow_factory, loan_id, checker=checker, scope=scope, note="Dossier complet")
    cash, mobile = payment_types
    # Where the product holds savings on the borrower's account, the loan is paid into that
    # account (which becomes the loan's linked account, carrying the holds); otherwise in cash.
    paid_to = (FundsChannel(deposit_account_id=account_id) if held and account_id is not None
               else FundsChannel(payment_type_id=cash, receipt_number=f"DEC-{plan.number:04d}"))
    disbursed = await movements.disburse(
        uow_factory, loan_id, Disburse(value_date=plan.disbursed_on, channel=paid_to), actor=maker.username,
        scope=scope, idempotency_key=f"demo-disb-{plan.number}")
    assert disbursed.kind == "disbursement"
    async with uow_factory() as uow:
        schedule = (await applications.load_record(uow, loan_id)).schedule
    assert schedule is not None
    taken = 0
    last = plan.disbursed_on
    for step, (day, amount) in enumerate(_payments(plan, schedule, rng)):
        day = max(day, last)
        if amount is None:
            amount = (await movements.payoff_quote(uow_factory(), loan_id, scope=scope, on=day)).total
        channel = FundsChannel(payment_type_id=mobile if rng.random() < 0.3 else cash,
                               receipt_number=f"REC-{plan.number:04d}-{step + 1:02d}")
        try:
            await movements.repay(uow_factory, loan_id, Repay(value_date=day, amount=amount, channel=channel),
                                  actor=maker.username, scope=scope, idempotency_key=f"demo-rep-{plan.number}-{step}")
        except Conflict:
            break  # paid off by an earlier repayment: the loan is closed
        taken += 1
        last = day
    return taken


async def _staff(uow_factory: UnitOfWorkFactory, office_ids: dict[str, int]) -> tuple[Checker, Checker]:
    """The demo's loan officer (maker) and branch manager (checker): the demo users."""
    from servicing.staff import bootstrap
    from servicing.staff.config import StaffSettings
    from servicing.staff.passwords import PasswordHashing

    staff = StaffSettings.from_environment()
    hashing = PasswordHashing(memory_kib=staff.argon2_memory_kib, time_cost=staff.argon2_time_cost)
    await bootstrap.ensure_demo_users(uow_factory, hashing, office_ids)
    async with uow_factory() as uow:
        found = dict((await uow.session.execute(text(
            "SELECT username, id FROM staff_user WHERE username IN (:officer, :manager)"),
            {"officer": OFFICER, "manager": MANAGER})).all())
    return (Checker(username=OFFICER, user_id=found[OFFICER]), Checker(username=MANAGER, user_id=found[MANAGER]))


async def _clients(uow_factory: UnitOfWorkFactory, office_ids: dict[str, int],
                   progress: Callable[[str], None]) -> tuple[list[int], list[int], dict[int, tuple[int, ...]], list[int]]:
    branch, head = office_ids["AG-THIES"], office_ids["SIEGE"]
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT id, office_id, client_type FROM client WHERE status = 'active' AND office_id IN (:b, :h) "
            "ORDER BY id"), {"b": branch, "h": head})).all()
        links = (await uow.session.execute(text(
            "SELECT group_id, member_id FROM client_group_member ORDER BY group_id, member_id"))).all()
    individuals = [r.id for r in rows if r.office_id == branch and r.client_type == "individual"]
    businesses = [r.id for r in rows if r.office_id == branch and r.client_type == "business"]
    members: dict[int, tuple[int, ...]] = {}
    groups: dict[int, list[int]] = {}
    for group_id, member_id in links:
        groups.setdefault(group_id, []).append(member_id)
    for ids in groups.values():
        for member in ids:
            members[member] = tuple(ids)
    head_office = [r.id for r in rows if r.office_id == head and r.client_type == "individual"]
    if len(head_office) < HEAD_OFFICE_BORROWERS:
        progress(f"loans: onboarding {HEAD_OFFICE_BORROWERS - len(head_office)} salaried borrowers at SIEGE")
        head_office += await onboard_in_order(uow_factory, [(msgspec.structs.replace(
            _profile(ClientType.INDIVIDUAL, n, head), city="Dakar", region="Dakar",
            address=f"Sicap Liberté {n % 9 + 1}, Dakar", national_id=f"DEMO-CNI-DK-{n:06d}"), n)
            for n in (5_000 + k for k in range(len(head_office), HEAD_OFFICE_BORROWERS))], CONCURRENT_LOANS)
    return individuals, businesses, members, head_office


async def run_loan_demo(uow_factory: UnitOfWorkFactory, office_ids: dict[str, int],
                        progress: Callable[[str], None]) -> LoanDemoSummary:
    products = await demo_products.ensure_demo_products(uow_factory, progress)
    async with uow_factory() as uow:
        purposes = (await uow.session.scalars(text(
            "SELECT details->>'purpose' FROM loan WHERE details->>'purpose' LIKE :mark"), {"mark": f"%({MARK}%"})).all()
        closed = await uow.session.scalar(text("SELECT max(closing_date) FROM accounting_closure WHERE undone_at IS NULL"))
        payment_rows = dict((await uow.session.execute(text("SELECT name, id FROM payment_type"))).all())
        sectors = dict((await uow.session.execute(text("SELECT name, id FROM activity_sector"))).all())
    done = {int(p.rsplit(MARK, 1)[1].rstrip(")")) for p in purposes}
    if done or (closed is not None and closed >= FIRST_DISBURSEMENT):
        progress(f"loans: {len(done)} demo loans already there" + ("" if done else f"; books closed through {closed}"))
        return LoanDemoSummary(loans_planned=len(done), loans_done=0, loans_refused=0, repayments=0,
                               reconciliation=await loan_reconciliation(uow_factory()))
    maker, checker = await _staff(uow_factory, office_ids)
    individuals, businesses, members, head_office = await _clients(uow_factory, office_ids, progress)
    plans = plan_portfolio(individuals, businesses, members, head_office)
    scope = OfficeScope(office_id=office_ids["SIEGE"], office_ids=frozenset(office_ids.values()),
                        whole_institution=True)
    payment_types = (payment_rows["Espèces"], payment_rows["Mobile money"])
    savings_product_id = await _savings_product(uow_factory)
    progress(f"loans: {len(plans)} applications to record, check, approve, disburse and repay "
             f"({', '.join(f'{n} {p}' for p, n in LOANS_PER_PRODUCT.items())})")
    semaphore = asyncio.Semaphore(CONCURRENT_LOANS)
    finished = refused = repayments = 0
    started = time.perf_counter()

    async def run(plan: LoanPlan) -> None:
        nonlocal finished, refused, repayments
        async with semaphore:
            try:
                taken = await _run_one(uow_factory, plan, products[plan.product], maker=maker, checker=checker,
                                       scope=scope, payment_types=payment_types,
                                       savings_product_id=savings_product_id,
                                       sector_id=sectors.get(_sector(plan)))
                repayments += taken
            except LedgerError as error:
                refused += 1
                progress(f"  loan {MARK}{plan.number:04d} ({plan.product}) stopped: {error}")
            finished += 1
            if finished % 50 == 0 or finished == len(plans):
                progress(f"  {finished}/{len(plans)} loans ({repayments} repayments, "
                         f"{time.perf_counter() - started:.0f} s)")

    await asyncio.gather(*(run(plan) for plan in plans))
    return LoanDemoSummary(loans_planned=len(plans), loans_done=len(plans) - refused, loans_refused=refused,
                           repayments=repayments, reconciliation=await loan_reconciliation(uow_factory()))


async def close_demo_days(uow_factory: UnitOfWorkFactory, progress: Callable[[str], None], *,
                          today: date) -> int:
    """Close every business day of the demo period (from the first disbursement through
    October), in order, month by month, after the loans' events are posted: the steps then
    age the loans day by day (arrears, reminders, and the posting steps of the close of
    business), as if the institution had closed each evening. The first close of an institution
    closes only its day, so the first demo day is closed alone, then the rest is caught up.
    Idempotent: days already closed are not run again. The number of days closed."""
    from servicing.close_of_business.run import close_business_days

    closed = 0
    started = time.perf_counter()
    month_ends = [FIRST_DISBURSEMENT] + [
        min(date(FIRST_DISBURSEMENT.year + (m // 12), m % 12 + 1, 1) - timedelta(days=1), REPAID_THROUGH)
        for m in range(FIRST_DISBURSEMENT.month, REPAID_THROUGH.month + 1)]
    for through in month_ends:
        run = await close_business_days(uow_factory, through, DEMO_CLOSE_ACTOR, today=today)
        closed += len(run.days)
        if run.days:
            entries = sum(step.entries for day in run.days for step in day.steps)
            progress(f"  business days closed through {through}: {len(run.days)} days, {entries} entries "
                     f"({time.perf_counter() - started:.0f} s)")
    async with uow_factory() as uow:
        buckets = (await uow.session.execute(text(
            "SELECT coalesce(s.bucket_label, '-') AS bucket, s.status, count(*) AS loans FROM loan_arrears_state s"
            " JOIN loan l ON l.id = s.loan_id AND l.status = 'active'"
            " GROUP BY 1, 2 ORDER BY min(s.days_overdue), 2"))).all()
    progress("loans by bucket after the close of " + f"{REPAID_THROUGH}: " + "; ".join(
        f"{b.bucket} ({b.status}): {b.loans}" for b in buckets))
    return closed


async def write_off_demo_loan(uow_factory: UnitOfWorkFactory, office_ids: dict[str, int],
                              progress: Callable[[str], None], *, today: date) -> int | None:
    """Write off, by hand, the demo loan longest in arrears once its days are closed (the issue's
    « one write-off »): its principal goes first against the provision the close booked, the rest
    to losses. Done once: a second demo run finds a loan already written off and does nothing.
    The loan written off, or None."""
    from servicing.loans.write_offs import WriteOffLoan, write_off_loan

    async with uow_factory() as uow:
        if await uow.session.scalar(text("SELECT 1 FROM loan WHERE status = 'written_off' LIMIT 1")):
            return None
        row = (await uow.session.execute(text(
            "SELECT s.loan_id, s.days_overdue, s.business_date FROM loan_arrears_state s"
            "  JOIN loan l ON l.id = s.loan_id AND l.status = 'active'"
            " WHERE s.status = 'non_performing' ORDER BY s.days_overdue DESC, s.loan_id LIMIT 1"))).one_or_none()
    if row is None:
        return None
    scope = OfficeScope(office_id=office_ids["SIEGE"], office_ids=frozenset(office_ids.values()),
                        whole_institution=True)
    written = await write_off_loan(uow_factory, row.loan_id, WriteOffLoan(
        reason=f"Irrécouvrable : {row.days_overdue} jours de retard, débiteur introuvable (démonstration)",
        value_date=row.business_date), actor=DEMO_CLOSE_ACTOR, scope=scope, idempotency_key="demo-write-off",
        today=today)
    async with uow_factory() as uow:
        covered = await uow.session.scalar(text(
            "SELECT coalesce(sum(amount), 0) FROM loan_provision_movement WHERE loan_id = :loan AND kind = 'write_off'"),
            {"loan": row.loan_id})
    # What the entry takes out of the books, not the transaction's amount (what the contract says is
    # owed, including interest never recognised on an NPA loan: the ceiling of later recoveries).
    currency = written.currency.strip()
    in_books = normalize_amount(written.principal + written.interest + written.fee + written.penalty, currency)
    progress(f"loan {row.loan_id} written off by hand ({row.days_overdue} days overdue): {in_books} out of the "
             f"books, {normalize_amount(covered, currency)} against its provision, "
             f"{normalize_amount(in_books - covered, currency)} to losses "
             f"({normalize_amount(written.amount, currency)} owed by contract stays recoverable)")
    return row.loan_id


def reconciliation_lines(report: LoanReconciliation) -> list[str]:
    """The loan reconciliation as a table for the terminal."""
    lines = ["", "Rapprochement des encours de crédit (sous-ledger des prêts / grand livre)",
             f"{'Produit':<26} {'Classe':<8} {'Durée':<6} {'Composante':<10} {'Compte':<7} {'Prêts':>5} "
             f"{'Sous-ledger':>14} {'Grand livre':>14} {'Écart':>8}"]
    for r in report.rows:
        lines.append(f"{r.product_name[:26]:<26} {r.classification or '':<8} {r.term or '':<6} {r.component[:10]:<10} "
                     f"{r.account_code:<7} {r.loans:>5} {r.subledger:>14,} {r.general_ledger:>14,} {r.difference:>8,}")
    lines.append(f"{'Compte':<8} {'Prêts':>5} {'Encours prêts':>14} {'Solde du compte':>16} {'Écart':>8}  usage")
    for a in report.accounts:
        lines.append(f"{a.account_code:<8} {a.loans:>5} {a.subledger:>14,} {a.general_ledger:>16,} "
                     f"{'' if a.difference is None else f'{a.difference:,}':>8}  "
                     f"{'prêts seulement' if a.exclusive else 'partagé'}")
    lines.append("no difference: " + ("yes" if report.balanced else "NO"))
    return lines
