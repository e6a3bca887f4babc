"""The steps of the close of business, in the order they run each day.

Each step is idempotent on its own (running it twice for a day posts once), which is what
makes the run resumable: a step interrupted halfway is simply run again. Order matters:
term deposits credit their interest before maturing (the payout includes it), and the
deposit accounts' interest is posted after maturities have paid into them; loans are collected
from the accounts after that, and aged last, on everything the day moved. The posting loan
steps follow: accrual before the collection (the due date's interest is earned before it is
taken), penalties on what the ageing found late, then the class, the provision and the write-off
that the day's arrears decide."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable
from datetime import date
from typing import Protocol

import msgspec

from servicing.close_of_business.model import StepOutcome
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory


class StepRun(Protocol):
    """A step's run over the institution (``scope`` None) or over exactly the offices of the scope
    (``office_ids``: their accounts and loans, not their branches'), for an office closing its day
    alone or offices catching up a day the others have closed already."""

    def __call__(self, uow_factory: UnitOfWorkFactory, day: date, actor: str,
                 scope: OfficeScope | None = None) -> Awaitable[StepOutcome]: ...


class Step(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    """French label shown to operators."""
    run: StepRun
    """The one entry point of the step, with its scope."""
    by_office: bool = True
    """False: the step cannot run over some offices only (an office close is refused, and a
    catch-up runs it over every office: idempotent anyway)."""


def _offices(scope: OfficeScope | None) -> list[int] | None:
    """Exactly the offices the step runs over (None: every office of the institution)."""
    return None if scope is None or scope.whole_institution else sorted(scope.office_ids)


def _over_offices(module: str, function: str) -> StepRun:
    """A loan step that takes exactly the offices of the scope (``offices=``), imported when it
    first runs (the step modules import the services that import this list)."""

    async def run(uow_factory: UnitOfWorkFactory, day: date, actor: str,
                  scope: OfficeScope | None = None) -> StepOutcome:
        step = getattr(importlib.import_module(module), function)
        outcome: StepOutcome = await step(uow_factory, day, actor, offices=_offices(scope))
        return outcome

    return run


async def _term_deposit_interest(uow_factory: UnitOfWorkFactory, day: date, actor: str,
                                 scope: OfficeScope | None = None) -> StepOutcome:
    from servicing.term_deposits.runs import post_interest

    summary = await post_interest(uow_factory, day, actor, offices=_offices(scope))
    return StepOutcome(items=summary.accounts_seen, entries=summary.entries_booked,
                       detail={"interest": str(summary.amount)})


async def _term_deposit_maturity(uow_factory: UnitOfWorkFactory, day: date, actor: str,
                                 scope: OfficeScope | None = None) -> StepOutcome:
    from servicing.term_deposits.runs import mature

    summary = await mature(uow_factory, day, actor, offices=_offices(scope))
    detail = {"amount": str(summary.amount)}
    if summary.held_for_review:
        detail["held_for_review"] = ",".join(map(str, summary.held_for_review))
    return StepOutcome(items=summary.accounts_seen, entries=summary.entries_booked, detail=detail)


async def _deposit_interest(uow_factory: UnitOfWorkFactory, day: date, actor: str,
                            scope: OfficeScope | None = None) -> StepOutcome:
    from servicing.deposits.interest import post_deposit_interest

    run = await post_deposit_interest(uow_factory, day, actor, offices=_offices(scope))
    return StepOutcome(items=run.accounts_posted, entries=run.entries_booked, detail={
        "interest": str(run.interest_posted), "overdraft_interest": str(run.overdraft_interest_charged),
        "already_posted": str(run.already_posted)})


async def _loan_collection(uow_factory: UnitOfWorkFactory, day: date, actor: str,
                           scope: OfficeScope | None = None) -> StepOutcome:
    from servicing.close_of_business.loan_collection import collect_loans

    return await collect_loans(uow_factory, day, actor, scope)


async def _loan_arrears(uow_factory: UnitOfWorkFactory, day: date, actor: str,
                        scope: OfficeScope | None = None) -> StepOutcome:
    from servicing.close_of_business.loan_arrears import age_loans

    return await age_loans(uow_factory, day, actor, scope)


_loan_charges = _over_offices("servicing.loans.product_charges", "charge_loans")
_loan_savings = _over_offices("servicing.loans.instalment_savings", "hold_instalment_savings")
_loan_accrual = _over_offices("servicing.close_of_business.loan_accrual", "accrue_loans")
_loan_penalties = _over_offices("servicing.close_of_business.loan_penalties", "charge_penalties")
_loan_classification = _over_offices("servicing.close_of_business.loan_classification", "classify_loans")
_loan_provisioning = _over_offices("servicing.close_of_business.loan_provisioning", "provision_loans")
_loan_write_off = _over_offices("servicing.close_of_business.loan_write_off", "write_off_loans")


STEPS: tuple[Step, ...] = (
    Step(name="term_deposit_interest", label="Intérêts des dépôts à terme", run=_term_deposit_interest),
    Step(name="term_deposit_maturity", label="Échéances des dépôts à terme", run=_term_deposit_maturity),
    Step(name="deposit_interest", label="Intérêts des comptes de dépôt", run=_deposit_interest),
    Step(name="loan_accrual", label="Intérêts courus et frais des prêts", run=_loan_accrual),
    Step(name="loan_charges", label="Frais automatiques des prêts", run=_loan_charges),
    Step(name="loan_collection", label="Prélèvements automatiques des échéances", run=_loan_collection),
    Step(name="loan_savings", label="Épargne obligatoire des échéances", run=_loan_savings),
    Step(name="loan_arrears", label="Âge des impayés et relances", run=_loan_arrears),
    Step(name="loan_penalties", label="Pénalités de retard", run=_loan_penalties),
    Step(name="loan_classification", label="Classement sain / en souffrance", run=_loan_classification),
    Step(name="loan_provisioning", label="Provisions pour créances en souffrance", run=_loan_provisioning),
    Step(name="loan_write_off", label="Passages en perte", run=_loan_write_off),
)
