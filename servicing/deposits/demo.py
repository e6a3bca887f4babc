"""The demo's clients and deposit accounts: a few hundred individuals, businesses and groups
of the Thiès branch, each KYC-complete (its documents recorded by a teller and verified by
the branch manager), each with a current account from the demo catalogue; a month of
movements (October 2026: opening deposits, salaries and sales paid in, cash withdrawals with
their fee, transfers), the month-end interest run, then the reconciliation with the GL.

Everything goes through the services (clients, KYC, accounts, grouped movements, interest),
so the demo exercises the same rules as the API. Idempotent: a second run finds its clients
and does nothing. Kept fast: the onboarding runs a few clients at a time, the movements go
in groups of a few hundred per transaction.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import text

from ledger.errors import LedgerError
from products.catalogue.common import ProductIdentity
from products.deposits.product import DepositProduct, DepositType
from products.posting_rules import AccountingRole, AccountingRule, ProductKind
from servicing.clients import documents
from servicing.clients import service as clients
from servicing.clients.commands import (
    AttachFile,
    ChangeClientStatus,
    CreateClient,
    RecordDocument,
    VerifyDocument,
)
from servicing.clients.kyc_rules import DocumentType, VerificationStatus
from servicing.clients.model import ClientProfile, ClientStatus, ClientType, Gender, Representative
from servicing.clients.storage import DatabaseStore
from servicing.deposits import accounts, interest, statements
from servicing.deposits.commands import Deposit, OpenDepositAccount, Transfer, Withdraw
from servicing.deposits.movements import GROUP_MOVEMENTS_MAX, Movement, Submitted, apply_movements
from servicing.products import demo as demo_products
from servicing.products import service as products
from servicing.unit_of_work import UnitOfWorkFactory

INDIVIDUALS: Final = 200
BUSINESSES: Final = 200
GROUPS: Final = 100
"""Groups of two members each, drawn from the individuals (each person in one group)."""
assert GROUPS * 2 <= INDIVIDUALS
CONCURRENT_ONBOARDINGS: Final = 12
MONTH_START: Final = date(2026, 10, 1)
MONTH_END: Final = date(2026, 10, 31)
TELLER: Final = "demo"
MANAGER: Final = "demo-chef-agence"
SCAN: Final = b"%PDF-1.4\n% scan de demonstration\n"
FIRST_NAMES: Final = ("Awa", "Moussa", "Fatou", "Ibrahima", "Aminata", "Cheikh", "Mariama", "Ousmane", "Khady",
                      "Mamadou", "Seynabou", "Abdoulaye", "Ndeye", "Modou", "Coumba", "Babacar")
LAST_NAMES: Final = ("Diop", "Ndiaye", "Fall", "Sow", "Sy", "Ba", "Diallo", "Faye", "Gueye", "Mbaye", "Sarr", "Cisse",
                     "Thiam", "Kane", "Seck", "Niang")
SECTORS: Final = ("Commerce", "Transformation agroalimentaire", "Transport", "Artisanat", "Restauration")


class DepositDemoSummary(msgspec.Struct, frozen=True, kw_only=True):
    clients_created: int
    accounts_opened: int
    movements_posted: int
    movements_refused: int
    interest_accounts: int
    reconciled: bool


LOAN_OFFICERS: Final = ("demo.loan-officer", "demo.branch-manager")
"""The demo staff who follow the clients (« agent de crédit »): the portfolio at risk and the
follow-up list per officer have more than one line."""


def _profile(kind: ClientType, n: int, office_id: int, members: tuple[int, ...] = ()) -> ClientProfile:
    first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[(n // len(FIRST_NAMES)) % len(LAST_NAMES)]
    contact = {"office_id": office_id, "phone": f"+221 77 {n // 100:03d} {n % 100:02d} 00",
               "address": f"Quartier {n % 12 + 1}, Thiès", "city": "Thiès", "region": "Thiès",
               "loan_officer": LOAN_OFFICERS[n % len(LOAN_OFFICERS)]}
    if kind is ClientType.INDIVIDUAL:
        return ClientProfile(client_type=kind, first_name=first, last_name=f"{last}-{n:04d}",
                             birth_date=date(1960 + n % 40, n % 12 + 1, n % 28 + 1),
                             gender=Gender.FEMALE if n % 2 == 0 else Gender.MALE, national_id=f"DEMO-CNI-{n:06d}",
                             occupation="Commerçant(e)", **contact)  # type: ignore[arg-type]
    if kind is ClientType.BUSINESS:
        return ClientProfile(client_type=kind, legal_name=f"Établissements {last} & Fils {n:04d}",
                             registration_number=f"SN-THS-2020-B-{n:05d}", sector=SECTORS[n % len(SECTORS)],
                             representatives=(Representative(full_name=f"{first} {last}", role="gérant"),),
                             **contact)  # type: ignore[arg-type]
    return ClientProfile(client_type=kind, group_name=f"GIE And Liggey {n:04d}", member_ids=members,
                         leader_id=members[0], **contact)  # type: ignore[arg-type]


_DOCUMENTS: Final = {
    ClientType.INDIVIDUAL: (DocumentType.NATIONAL_ID_CARD,),
    ClientType.BUSINESS: (DocumentType.BUSINESS_REGISTRATION, DocumentType.TAX_REGISTRATION),
    ClientType.GROUP: (DocumentType.MEETING_MINUTES,),
}


async def _create(uow_factory: UnitOfWorkFactory, profile: ClientProfile) -> int:
    return (await clients.create_client(uow_factory(), CreateClient(profile=profile, actor=TELLER))).client.client_id


async def onboard_in_order(uow_factory: UnitOfWorkFactory, profiles: list[tuple[ClientProfile, int]],
                           concurrency: int = CONCURRENT_ONBOARDINGS) -> list[int]:
    """Onboard the clients, the n-th profile getting the n-th lowest new client id on every run:
    the clients are created one after the other, and only their KYC and activation (the slow
    part) run a few at a time. Created concurrently, the ids followed whichever creation committed
    first, so a later demo picking clients by id (the term deposits: women's incentive, the
    over-60s' fixed rate) got other people from one run to the next, and other interest."""
    client_ids = [await _create(uow_factory, profile) for profile, _ in profiles]
    await _bounded([(lambda c=c, p=p, n=n: _make_active(uow_factory, c, p, n))  # type: ignore[misc]
                    for c, (p, n) in zip(client_ids, profiles, strict=True)], concurrency)
    return client_ids


async def _make_active(uow_factory: UnitOfWorkFactory, client_id: int, profile: ClientProfile, n: int) -> int:
    """Document (teller), verify (manager: four eyes), activate."""
    for document_type in _DOCUMENTS[profile.client_type]:
        document = await documents.record_document(uow_factory(), RecordDocument(
            client_id=client_id, document_type=document_type, number=f"DOC-{n:06d}", actor=TELLER,
            issued_on=date(2022, 1, 1), expires_on=date(2031, 12, 31)))
        await documents.attach_file(uow_factory(), DatabaseStore(), AttachFile(
            client_id=client_id, document_id=document.document_id, file_name=f"{document_type.value}.pdf",
            declared_content_type="application/pdf", content=SCAN, actor=TELLER))
        await documents.verify_document(uow_factory(), VerifyDocument(
            client_id=client_id, document_id=document.document_id, status=VerificationStatus.VERIFIED,
            actor=MANAGER))
    await clients.change_status(uow_factory(), ChangeClientStatus(
        client_id=client_id, status=ClientStatus.ACTIVE, actor=TELLER))
    return client_id


async def _bounded(jobs: list[Callable[[], Awaitable[int]]], concurrency: int = CONCURRENT_ONBOARDINGS) -> list[int]:
    semaphore = asyncio.Semaphore(concurrency)

    async def run(job: Callable[[], Awaitable[int]]) -> int:
        async with semaphore:
            return await job()

    return list(await asyncio.gather(*(run(job) for job in jobs)))


def _month_of_movements(account_ids: list[int], randomness: random.Random) -> list[Movement]:
    """Opening deposits in the first days, then, through the month, takings and salaries paid
    in, cash withdrawals and a few transfers between accounts; sorted by value date."""
    dated: list[tuple[date, int, Movement]] = []
    for number, account_id in enumerate(account_ids):
        opening = MONTH_START + timedelta(days=randomness.randrange(3))
        amount = Decimal(randomness.randrange(20, 400) * 1_000)
        dated.append((opening, number, Deposit(account_id=account_id, amount=amount, actor=TELLER, value_date=opening,
                                               description="Versement initial", idempotency_key=f"demo-open-{account_id}")))
        for step in range(randomness.randrange(3, 9)):
            day = MONTH_START + timedelta(days=randomness.randrange(3, 31))
            key = f"demo-{account_id}-{step}"
            roll = randomness.random()
            if roll < 0.4:
                movement: Movement = Deposit(account_id=account_id, amount=Decimal(randomness.randrange(5, 150) * 1_000),
                                             actor=TELLER, value_date=day, description="Versement espèces",
                                             idempotency_key=key)
            elif roll < 0.85:
                movement = Withdraw(account_id=account_id, amount=Decimal(randomness.randrange(5, 120) * 1_000),
                                    actor=TELLER, value_date=day, description="Retrait guichet", idempotency_key=key)
            else:
                others = [other for other in account_ids[number + 1:number + 40] if other != account_id] or account_ids[:1]
                movement = Transfer(from_account_id=account_id, to_account_id=randomness.choice(others),
                                    amount=Decimal(randomness.randrange(5, 60) * 1_000), actor=TELLER, value_date=day,
                                    description="Virement entre membres", idempotency_key=key)
            dated.append((day, number * 100 + step, movement))
    dated.sort(key=lambda item: (item[0], item[1]))
    return [movement for _day, _n, movement in dated]


SAVINGS_NAME: Final = "Compte sur livret membre"


async def _savings_product(uow_factory: UnitOfWorkFactory) -> int:
    """The demo's passbook savings product (3 %, monthly interest, withdrawal fee), posting to
    2512 "Comptes sur livret": the demo journal's own month of manual entries uses 2511, so
    this product's accounts reconcile with a control account of their own."""
    for record in await products.list_products(uow_factory(), ProductKind.DEPOSIT):
        if record.settings.identity.name == SAVINGS_NAME:
            return record.product_id
    refs = await demo_products.ensure_demo_references(uow_factory)
    accounting = demo_products._mapping(ProductKind.DEPOSIT, AccountingRule.CASH, refs,
                                        charges={refs.withdrawal_fee_id: "7022"})
    accounting = msgspec.structs.replace(accounting, accounts={**accounting.accounts,
                                                               AccountingRole.DEPOSIT_CONTROL: "2512"})
    created = await products.create_product(uow_factory(), DepositProduct(
        identity=ProductIdentity(name=SAVINGS_NAME, short_name="CSL", code="DV-CSL",
                                 description="Épargne sur livret : 3 % l'an, intérêts mensuels",
                                 open_date=date(2026, 1, 1)),
        currency="XOF", deposit_type=DepositType.SAVINGS, interest_rate_annual_percent=Decimal(3),
        minimum_opening_balance=Decimal(1_000), minimum_balance=Decimal(1_000), withdrawal_fee_charge_ids=(refs.withdrawal_fee_id,),
        accounting=accounting), TELLER)
    return created.product_id


async def run_deposit_demo(uow_factory: UnitOfWorkFactory, office_id: int,
                           progress: Callable[[str], None]) -> DepositDemoSummary:
    product_id = await _savings_product(uow_factory)
    async with uow_factory() as uow:
        existing = await uow.session.scalar(text("SELECT count(*) FROM deposit_account WHERE created_by = :actor"),
                                            {"actor": TELLER})
        closed = await uow.session.scalar(text(
            "SELECT max(closing_date) FROM accounting_closure WHERE undone_at IS NULL"))
    if closed is not None and closed >= MONTH_START and not existing:
        progress(f"deposit accounts: books closed through {closed}; the deposit demo needs October open (fresh database)")
        return DepositDemoSummary(clients_created=0, accounts_opened=0, movements_posted=0, movements_refused=0,
                                  interest_accounts=0, reconciled=True)
    if existing:
        progress(f"deposit accounts: {existing or 0} demo accounts already there")
        rows = await statements.reconciliation(uow_factory(), on=MONTH_END)
        return DepositDemoSummary(clients_created=0, accounts_opened=0, movements_posted=0, movements_refused=0,
                                  interest_accounts=0, reconciled=all(not r.difference for r in rows))
    individuals = await onboard_in_order(uow_factory, [
        (_profile(ClientType.INDIVIDUAL, n, office_id), n) for n in range(INDIVIDUALS)])
    businesses = await onboard_in_order(uow_factory, [
        (_profile(ClientType.BUSINESS, n, office_id), 10_000 + n) for n in range(BUSINESSES)])
    groups = await onboard_in_order(uow_factory, [
        (_profile(ClientType.GROUP, n, office_id, (individuals[2 * n], individuals[2 * n + 1])), 20_000 + n)
        for n in range(GROUPS)])
    client_ids = individuals + businesses + groups
    progress(f"deposit demo: {len(individuals)} individuals, {len(businesses)} businesses, {len(groups)} groups "
             "onboarded (KYC verified, active)")

    async def open_one(client_id: int) -> int:
        opened = await accounts.open_account(uow_factory, OpenDepositAccount(
            client_id=client_id, product_id=product_id, actor=TELLER, opened_on=MONTH_START))
        await accounts.activate(uow_factory(), opened.account.account_id, TELLER, activated_on=MONTH_START)
        return opened.account.account_id

    account_ids = await _bounded([(lambda c=c: open_one(c)) for c in client_ids])  # type: ignore[misc]
    progress(f"deposit demo: {len(account_ids)} savings accounts opened and activated on {MONTH_START}")
    movements = _month_of_movements(account_ids, random.Random(2026))
    posted = refused = 0
    for start in range(0, len(movements), GROUP_MOVEMENTS_MAX):
        outcomes = await apply_movements(uow_factory(), [
            Submitted(command=m) for m in movements[start:start + GROUP_MOVEMENTS_MAX]])
        refused += sum(1 for o in outcomes if isinstance(o, LedgerError))
        posted += sum(1 for o in outcomes if not isinstance(o, LedgerError))
    progress(f"deposit demo: {posted} movements posted in October, {refused} refused (beyond the available "
             "balance: the teller's screen would have said so)")
    run = await interest.post_deposit_interest(uow_factory, MONTH_END, TELLER)
    progress(f"deposit demo: interest run of {MONTH_END}: {run.accounts_posted} accounts, interest "
             f"{run.interest_posted} XOF, overdraft interest {run.overdraft_interest_charged} XOF")
    rows = await statements.reconciliation(uow_factory(), on=MONTH_END)
    for row in rows:
        progress(f"reconciliation {row.currency} control {row.deposit_control_account}: accounts "
                 f"{row.accounts_balance}, GL {row.gl_net_balance}, difference {row.difference}")
    return DepositDemoSummary(clients_created=len(client_ids), accounts_opened=len(account_ids),
                              movements_posted=posted, movements_refused=refused,
                              interest_accounts=run.accounts_posted, reconciled=all(not r.difference for r in rows))
