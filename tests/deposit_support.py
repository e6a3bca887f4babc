"""Shared set-up for deposit account tests: a KYC-complete active client, and a deposit
product whose GL accounts are the test's own (so its reconciliation sees only its accounts)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from products.accounting import ProductAccounting
from products.catalogue.common import ProductIdentity
from products.deposits.product import DepositProduct, Overdraft
from products.posting_rules import AccountingRole, AccountingRule, ProductKind, roles_used
from servicing import chart
from servicing.clients import documents, service
from servicing.clients.commands import (
    AttachFile,
    ChangeClientStatus,
    CreateClient,
    RecordDocument,
    VerifyDocument,
)
from servicing.clients.kyc_rules import DocumentType, VerificationStatus
from servicing.clients.model import ClientProfile, ClientStatus, ClientType, Gender
from servicing.clients.storage import DatabaseStore
from servicing.commands import CreateGLAccounts
from servicing.products import service as products
from servicing.unit_of_work import UnitOfWorkFactory

_ids = itertools.count(1)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
R = AccountingRole
_ROLE_ACCOUNTS = {
    R.FUND_SOURCE: ("CASH", AccountType.ASSET), R.DEPOSIT_CONTROL: ("DCTL", AccountType.LIABILITY),
    R.OVERDRAFT_PORTFOLIO: ("OVD", AccountType.ASSET), R.INTEREST_ON_DEPOSITS_EXPENSE: ("IEXP", AccountType.EXPENSE),
    R.FEE_INCOME: ("FEE", AccountType.INCOME), R.INTEREST_INCOME: ("IINC", AccountType.INCOME),
    R.VAT_PAYABLE: ("VAT", AccountType.LIABILITY), R.PENALTY_INCOME: ("PEN", AccountType.INCOME),
    R.INTEREST_PAYABLE: ("IPAY", AccountType.LIABILITY),
}


@dataclass(frozen=True)
class DepositWorld:
    office_id: int
    prefix: str
    product_id: int
    accounts: dict[AccountingRole, str]


async def onboarded_client(uow_factory: UnitOfWorkFactory, office_id: int, prefix: str) -> int:
    """An individual, active, with a verified unexpired national id card (KYC complete)."""
    n = next(_ids)
    profile = ClientProfile(client_type=ClientType.INDIVIDUAL, office_id=office_id, first_name="Awa",
                            last_name=f"Ndiaye{prefix}d{n}", birth_date=date(1985, 3, 2), gender=Gender.FEMALE,
                            national_id=f"{prefix}-D{n}-{os.getpid()}", phone="+221 77 000 00 00",
                            address="Rue 1, Thiès")
    client_id = (await service.create_client(uow_factory(), CreateClient(profile=profile, actor="teller-1"))
                 ).client.client_id
    document = await documents.record_document(uow_factory(), RecordDocument(
        client_id=client_id, document_type=DocumentType.NATIONAL_ID_CARD, number=f"N{n}", actor="teller-1",
        issued_on=date(2020, 1, 1), expires_on=date.today() + timedelta(days=3650)))
    await documents.attach_file(uow_factory(), DatabaseStore(), AttachFile(
        client_id=client_id, document_id=document.document_id, file_name="cni.jpg",
        declared_content_type="image/jpeg", content=JPEG, actor="teller-1"))
    await documents.verify_document(uow_factory(), VerifyDocument(
        client_id=client_id, document_id=document.document_id, status=VerificationStatus.VERIFIED,
        actor="chef-agence"))
    await service.change_status(uow_factory(), ChangeClientStatus(
        client_id=client_id, status=ClientStatus.ACTIVE, actor="teller-1"))
    return client_id


async def deposit_world(uow_factory: UnitOfWorkFactory, world: Any, *, rule: AccountingRule = AccountingRule.CASH,
                        withdrawal_fee_charge_id: int | None = None, **changes: Any) -> DepositWorld:
    """A deposit product on GL accounts of the test's own (created under the world's prefix)."""
    prefix = world.prefix
    needed = roles_used(ProductKind.DEPOSIT, rule)
    headers = {kind: f"{prefix}.H{kind.value[:3].upper()}" for kind in AccountType}
    accounts = [GLAccount(code=code, name=f"En-tête {kind.value}", type=kind, usage=AccountUsage.HEADER)
                for kind, code in headers.items()]
    codes = {role: f"{prefix}.{suffix}" for role, (suffix, _kind) in _ROLE_ACCOUNTS.items()}
    accounts += [GLAccount(code=codes[role], name=suffix, type=kind, usage=AccountUsage.DETAIL,
                           parent_code=headers[kind])
                 for role, (suffix, kind) in _ROLE_ACCOUNTS.items() if role is not R.FUND_SOURCE]
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=tuple(accounts), actor="tests"))
    codes[R.FUND_SOURCE] = world.cash
    n = next(_ids)
    product = DepositProduct(
        identity=ProductIdentity(name=f"Épargne {prefix} {n}", short_name=f"E{n}{os.getpid() % 100}"[:10]),
        currency="XOF", interest_rate_annual_percent=Decimal(6), overdraft=Overdraft(limit_amount=Decimal(50_000)),
        withdrawal_fee_charge_ids=(withdrawal_fee_charge_id,) if withdrawal_fee_charge_id else (),
        accounting=ProductAccounting(rule=rule, accounts={role: codes[role] for role in needed}))
    product = msgspec.structs.replace(product, **changes)
    record = await products.create_product(uow_factory(), product, "tests")
    return DepositWorld(office_id=world.office_id, prefix=prefix, product_id=record.product_id,
                        accounts={role: codes[role] for role in needed})
