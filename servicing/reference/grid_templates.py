"""Delinquency-grid templates an institution loads instead of typing its grids: the RCSFD
grid of the UEMOA decentralised financial systems (French labels, cited) and a generic one.

Loading a template replaces the grids of the kinds it covers, as `PUT` of each grid would
(the old buckets stay, retired, for the provisions computed with them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from products.reference.model import BucketKind, DelinquencyBucket, LoanState
from servicing.errors import InvalidInput
from servicing.reference import buckets
from servicing.reference.defaults import BCEAO_GRID
from servicing.unit_of_work import UnitOfWorkFactory

_GENERIC_SOURCE: Final = ("Generic template: 90 days past due marks a non-performing loan (the Basel definition "
                          "of a non-performing exposure); the provision rates are an example of a prudent policy, "
                          "not a regulation: set the institution's own before use")


def _generic(label_prefix: str = "") -> tuple[DelinquencyBucket, ...]:
    rows = ((0, 0, "Current", LoanState.HEALTHY, 0), (1, 30, "1-30 days", LoanState.HEALTHY, 1),
            (31, 60, "31-60 days", LoanState.HEALTHY, 5), (61, 90, "61-90 days", LoanState.HEALTHY, 10),
            (91, 180, "91-180 days", LoanState.DOUBTFUL, 50), (181, 365, "181-365 days", LoanState.DOUBTFUL, 75),
            (366, None, "Over 365 days", LoanState.DOUBTFUL, 100))
    return tuple(DelinquencyBucket(label=label_prefix + label, days_overdue_min=low, days_overdue_max=high,
                                   loan_state=state, provision_rate_percent=Decimal(rate), source=_GENERIC_SOURCE)
                 for low, high, label, state, rate in rows)


class GridTemplate(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    description: str
    grids: dict[BucketKind, tuple[DelinquencyBucket, ...]]


GRID_TEMPLATES: Final[dict[str, GridTemplate]] = {template.name: template for template in (
    GridTemplate(
        name="bceao-sfd", label="SFD de l'UMOA (RCSFD)",
        description="Créances en souffrance des SFD : 0-3 mois sain, 3-6 mois 40 %, 6-12 mois 80 %, 12-24 mois "
                    "100 %, au-delà irrécouvrable. Loans and overdrafts; no grid for rescheduled loans, whose "
                    "treatment the reference marks as not confirmed (enter it yourself).",
        grids={BucketKind.LOAN: BCEAO_GRID, BucketKind.OVERDRAFT: BCEAO_GRID}),
    GridTemplate(
        name="generic", label="Generic (90 days non-performing)",
        description="Seven buckets, non-performing after 90 days, example provision rates 0/1/5/10/50/75/100 %; "
                    "rescheduled loans use the same buckets. Review the rates against your policy.",
        grids={BucketKind.LOAN: _generic(), BucketKind.OVERDRAFT: _generic(),
               BucketKind.RESCHEDULED_LOAN: _generic("Rescheduled, ")}),
)}


async def load_grid_template(uow_factory: UnitOfWorkFactory, name: str, actor: str
                             ) -> dict[BucketKind, list[buckets.StoredBucket]]:
    """Replace the grid of every kind the template covers; returns the grids now in force."""
    template = GRID_TEMPLATES.get(name)
    if template is None:
        raise InvalidInput(f"unknown grid template {name!r}; known: {', '.join(sorted(GRID_TEMPLATES))}",
                           field="template")
    return {kind: await buckets.replace_grid(uow_factory(), kind, grid, actor) for kind, grid in template.grids.items()}
