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


_GROUPS = text(f"""
SELECT coalesce(s.bucket_label, 'hors grille') AS bucket, s.provision_rate_percent AS rate, l.product_id,
       min(p.name) AS product_name, l.currency, count(*) AS loans, sum(s.outstanding_principal) AS outstanding,
       min(s.days_overdue) AS days_from
{_FROM}
 GROUP BY bucket, rate, l.product_id, l.currency
""")
"""Every loan counted, per bucket, rate, product and currency: the rows of the report, in one
set-based pass (most loans, current at 0 %, need nothing more)."""

_PROVISIONED = text(f"""
SELECT l.id, l.product_id, l.product_version, l.currency, s.outstanding_principal, s.provision_rate_percent,
       coalesce(s.bucket_label, 'hors grille') AS bucket
{_FROM}
   AND (s.provision_rate_percent > 0 OR s.loan_id IN (SELECT m.loan_id FROM loan_provision_movement m))
 ORDER BY l.id
""")
"""The loans whose provision is computed one by one: those whose bucket requires one, and those
for which a provision was ever booked (what is booked may still be to release). The others
require nothing and have nothing booked. The condition reads the state alone, so PostgreSQL
applies it while reading the states, before the join to the loans."""


async def provisioning_report(uow: UnitOfWork, scope: OfficeScope,
                              narrowed: RiskFilter | None = None) -> ProvisioningReport:
    products: dict[tuple[int, int], LoanProduct] = {}
    params = _params(scope, narrowed)
    async with uow:
        groups = (await uow.session.execute(_GROUPS, params)).all()
        loans = (await uow.session.execute(_PROVISIONED, params)).all()
        as_of = await _as_of(uow)
        booked = await booked_provisions(uow, [loan.id for loan in loans], at_last_close=True)
        required = await required_provisions(uow, loans, products, booked)
        accounts = await provision_accounts(uow)
    need: dict[tuple[Any, ...], Decimal] = {}
    have: dict[tuple[Any, ...], Decimal] = {}
    for loan in loans:
        key = (loan.bucket, loan.provision_rate_percent, loan.product_id, loan.currency)
        need[key] = need.get(key, Decimal(0)) + required.get(loan.id, Decimal(0))
        have[key] = have.get(key, Decimal(0)) + sum(booked.get(loan.id, {}).values(), Decimal(0))
    rows = []
    for group in sorted(groups, key=lambda g: (g.days_from, g.product_name, g.currency.strip())):
        key, currency = (group.bucket, group.rate, group.product_id, group.currency), group.currency.strip()
        required_total, booked_total = need.get(key, Decimal(0)), have.get(key, Decimal(0))
        rows.append(ProvisioningRow(
            bucket=group.bucket, provision_rate_percent=plain(group.rate), product_id=group.product_id,
            product_name=group.product_name, currency=currency, loans=group.loans,
            outstanding_principal=normalize_amount(group.outstanding, currency),
            provision_required=normalize_amount(required_total, currency),
            provision_booked=normalize_amount(booked_total, currency),
            difference=normalize_amount(required_total - booked_total, currency)))
    return ProvisioningReport(as_of=as_of, rows=tuple(rows), accounts=tuple(accounts),
                              totals=provisioning_totals(tuple(rows)))
