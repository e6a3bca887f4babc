"""The provisioning report: per delinquency bucket and product, the provision the loans require
(the close of business's own rule, `loan_provisioning.required_provisions`: base net of
guarantee deposits, the bucket's rate, the product's rounding) next to the provision booked for
them (`loan_provision_movement` rows of business days up to each loan's last close), as of the
last closed business day: the loans and the provision of the trial balance as of that day. After a close the two
are equal, except where automatic declassification is off and a change awaits a decision, or
where money moved after the close; the difference column shows it. A provisions line per GL
account (booked per loan = the account's balance) completes it for the accountant."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy import text

from ledger.money import normalize_amount
from products.loans.product import LoanProduct
from servicing.close_of_business.loan_provisioning import required_provisions
from servicing.close_of_business.risk_reports import _FROM, RiskFilter, _as_of, _params, currency_totals
from servicing.loans.provisions import ProvisionAccountRow, booked_provisions, provision_accounts
from servicing.loans.schedules import plain
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork


class ProvisioningRow(msgspec.Struct, frozen=True, kw_only=True):
    bucket: str
    provision_rate_percent: Decimal
    product_id: int
    product_name: str
    currency: str
    loans: int
    outstanding_principal: Decimal
    provision_required: Decimal
    provision_booked: Decimal
    difference: Decimal
    """Required less booked: what the next close would allow (positive) or release (negative)."""


class ProvisioningReport(msgspec.Struct, frozen=True, kw_only=True):
    as_of: date | None
    rows: tuple[ProvisioningRow, ...]
    accounts: tuple[ProvisionAccountRow, ...]
    totals: tuple[ProvisioningRow, ...] = ()
    """Every bucket and product per currency (bucket "Total", product 0)."""


def provisioning_totals(rows: tuple[ProvisioningRow, ...]) -> tuple[ProvisioningRow, ...]:
    return tuple(ProvisioningRow(
        bucket="Total", provision_rate_percent=Decimal(0), product_id=0, product_name="", currency=currency,
        loans=t["loans"], outstanding_principal=t["outstanding_principal"], provision_required=t["provision_required"],
        provision_booked=t["provision_booked"], difference=t["difference"])
        for currency, t in currency_totals(rows, ("outstanding_principal", "provision_required", "provision_booked",
                                                  "difference")).items())


_LOANS = text(f"""
SELECT l.id, l.product_id, l.product_version, l.currency, l.booked_classification, p.name AS product_name,
       s.outstanding_principal, s.provision_rate_percent, coalesce(s.bucket_label, 'hors grille') AS bucket,
       s.days_overdue
{_FROM}
 ORDER BY l.id
""")


async def provisioning_report(uow: UnitOfWork, scope: OfficeScope,
                              narrowed: RiskFilter | None = None) -> ProvisioningReport:
    products: dict[tuple[int, int], LoanProduct] = {}
    async with uow:
        loans = (await uow.session.execute(_LOANS, _params(scope, narrowed))).all()
        as_of = await _as_of(uow)
        booked = await booked_provisions(uow, [loan.id for loan in loans], at_last_close=True)
        required = await required_provisions(uow, loans, products, booked)
        accounts = await provision_accounts(uow)
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for loan in loans:
        key = (loan.bucket, plain(loan.provision_rate_percent), loan.product_id, loan.product_name,
               loan.currency.strip())
        groups.setdefault(key, []).append(loan)
    rows = []
    for (bucket, rate, product_id, name, currency), members in sorted(
            groups.items(), key=lambda item: (min(m.days_overdue for m in item[1]), item[0][3], item[0][4])):
        need = sum((required.get(m.id, Decimal(0)) for m in members), Decimal(0))
        have = sum((sum(booked.get(m.id, {}).values(), Decimal(0)) for m in members), Decimal(0))
        rows.append(ProvisioningRow(
            bucket=bucket, provision_rate_percent=rate, product_id=product_id, product_name=name, currency=currency,
            loans=len(members),
            outstanding_principal=normalize_amount(sum((m.outstanding_principal for m in members), Decimal(0)),
                                                   currency),
            provision_required=normalize_amount(need, currency), provision_booked=normalize_amount(have, currency),
            difference=normalize_amount(need - have, currency)))
    return ProvisioningReport(as_of=as_of, rows=tuple(rows), accounts=tuple(accounts),
                              totals=provisioning_totals(tuple(rows)))
