"""The tax a charge carries, read from the reference data: one reading for every fee,
charge and penalty (deposit withdrawal fees, loan schedule fees, automatic and manual loan
charges, overdue penalties). The rules (active, institution exemption, validity) are
`products.reference.taxes.charge_tax`'s."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from products.reference.db.tables import ChargeRow, TaxRateRow
from products.reference.taxes import ChargeTax, charge_tax


def tax_of(rate: TaxRateRow | None) -> ChargeTax | None:
    """The tax a charge carries from its tax rate's row (None: it names none, or none applies)."""
    if rate is None:
        return None
    return charge_tax(rate.rate_percent, valid_from=rate.valid_from, valid_to=rate.valid_to, active=rate.active,
                      institution_exempt=rate.institution_exempt)


async def tax_of_charge(session: AsyncSession, charge: ChargeRow) -> ChargeTax | None:
    """The tax of one charge already loaded."""
    if charge.tax_rate_id is None:
        return None
    return tax_of(await session.get(TaxRateRow, charge.tax_rate_id))

