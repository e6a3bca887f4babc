"""The loan steps of the close of business for an explicit list of loans, inside a unit of work
the caller already holds (and commits).

A backdated loan event restates the loan's close-of-business effects in the same database
transaction as the event itself (`servicing.loans.restatement`). The steps are the nightly
ones, narrowed to the loans given (their ``loans`` argument), not copies of their logic: what a
restatement posts is what the night would have posted, so a re-run still posts nothing.

The steps open their own units of work and commit each chunk; here they are handed
`Borrowed`, a factory answering the caller's unit of work whose commits only flush, so every
write joins the caller's transaction and its locks (loans, then deposit accounts, ascending ids:
the steps lock loans in id order, as the caller does)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Final

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from servicing.close_of_business.model import StepOutcome
from servicing.unit_of_work import UnitOfWork


class _Joined:
    """The caller's unit of work as a step sees it: entering and leaving do nothing, a commit
    flushes (the caller commits, or rolls everything back)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    @property
    def session(self) -> AsyncSession:
        return self._uow.session

    async def connection(self) -> AsyncConnection:
        return await self._uow.connection()

    async def __aenter__(self) -> _Joined:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    async def commit(self) -> None:
        await self._uow.session.flush()


class Borrowed:
    """A unit-of-work factory answering the caller's unit of work (`_Joined`)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._joined = _Joined(uow)

    @property
    def engine(self) -> Any:
        raise AssertionError("a borrowed unit of work has no engine of its own")

    def __call__(self) -> Any:
        return self._joined


LOAN_STEPS: Final = ("loan_arrears", "loan_accrual", "loan_classification", "loan_provisioning")


class LoansClosed(msgspec.Struct, frozen=True, kw_only=True):
    """What the steps did for the loans on the day."""

    steps: dict[str, StepOutcome]

    @property
    def entries(self) -> int:
        return sum(outcome.entries for outcome in self.steps.values())


async def close_loans_in(uow: UnitOfWork, day: date, loan_ids: Sequence[int], actor: str, *,
                         previous_status: Mapping[int, str] | None = None,
                         steps: Sequence[str] = LOAN_STEPS) -> LoansClosed:
    """Run the posting loan steps for ``loan_ids`` on ``day`` inside ``uow``: ageing first (the
    day's arrears, ``previous_status`` being each loan's status at the previous close when the
    stored state is not it), then the accrual (target minus posted: it posts the difference,
    or takes it back), the class (a reclassification entry when it changes) and the provision
    (allowance or release against what is booked). Penalties are not run here: a restatement
    re-derives them day by day (`servicing.loans.restatement`). The accrual runs after the
    ageing so it sees the restated status (the nightly run reads the previous close's).
    ``steps`` narrows to some of them, in this order (a restatement charges the day's penalties
    between the ageing and the accrual, and books the provision itself as corrections,
    `products.loans.restatement.provision_corrections`)."""
    from servicing.close_of_business.loan_accrual import accrue_loans
    from servicing.close_of_business.loan_arrears import age_loans
    from servicing.close_of_business.loan_classification import classify_loans
    from servicing.close_of_business.loan_provisioning import provision_loans

    factory: Any = Borrowed(uow)
    ids = sorted(set(loan_ids))
    unknown = set(steps) - set(LOAN_STEPS)
    assert not unknown, unknown
    done: dict[str, StepOutcome] = {}
    if "loan_arrears" in steps:
        done["loan_arrears"] = await age_loans(factory, day, actor, None, loans=ids, previous_status=previous_status)
    if "loan_accrual" in steps:
        done["loan_accrual"] = await accrue_loans(factory, day, actor, loans=ids)
    if "loan_classification" in steps:
        done["loan_classification"] = await classify_loans(factory, day, actor, loans=ids)
    if "loan_provisioning" in steps:
        done["loan_provisioning"] = await provision_loans(factory, day, actor, loans=ids)
    return LoansClosed(steps=done)
