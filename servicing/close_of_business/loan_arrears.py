"""Close-of-business step `loan_arrears`: age every active loan at the close of the day.

For each loan disbursed on or before the day, by chunks of loans locked in id order: the
position from its schedule and the transactions value-dated up to the day, its arrears
(`products.loans.arrears.age_arrears`: tolerance, days to arrears and to NPA, the NPA exit
rule against yesterday's status), its grade on the delinquency grid (bucket, class, provision
rate), and the reminders of the day (`products.loans.reminders`) written to the outbox in the
same transaction. The result is kept in `loan_arrears_state` for the portfolio-at-risk,
ageing and arrears reports. Posts no journal entry: reclassification and provisioning post
from this state. Idempotent: a second run writes the same state and the outbox keeps each
reminder once.

Most loans, most days, have nothing happen: current, nothing falling due within the reminder
notice, no new transaction. Their state is carried to the day by one set-based statement
(`_UNCHANGED` says exactly when), so a quiet day costs the few loans that move, not the
portfolio. A late loan to which nothing happened either (`_CARRIED`: no transaction, no change
of the loan, no unpaid instalment falling due within the reminder notice) only grows older: its
arrears are carried to the day by `products.loans.arrears.carry_arrears` and graded again, from
its state alone, by chunks of loans locked in id order (its follow-up task, if the day would
announce one, sends it to the full derivation, which writes the reminders). Every other loan is
recomputed from its history as above."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final, NamedTuple

import msgspec
from sqlalchemy import text

from products.loans.arrears import Arrears, ArrearsPolicy, ArrearsStatus, age_arrears, carry_arrears
from products.loans.classification import grade, grid_kind
from products.loans.model import Schedule
from products.loans.product import LoanProduct
from products.loans.reminders import DAYS_BEFORE_DUE_DEFAULT, Reminder, follow_up_reminder, reminders_for
from products.loans.terms import LoanTerms
from products.posting_rules import Component
from products.reference.model import BucketKind, DelinquencyBucket, LoanState
from servicing.close_of_business.loan_postings import ids_of
from servicing.close_of_business.model import StepOutcome
from servicing.close_of_business.selection import LOAN_OPEN_ON_DAY
from servicing.loans.applications import get_product_in
from servicing.loans.movements import position_from_history
from servicing.outbox import OutboxEvent, record_events
from servicing.reference import buckets
from servicing.rows import named_rows
from servicing.staff.scope import OfficeScope, office_set_condition
from servicing.unit_of_work import UnitOfWorkFactory

CHUNK_LOANS: Final = 500
FOLLOW_UP_DAYS_DEFAULT: Final = 30


def follow_up_after_days() -> int | None:
    """Days overdue after which a loan goes on its officer's follow-up list
    (GRANDLIVRE_FOLLOW_UP_DAYS; 0 turns the list off)."""
    days = int(os.environ.get("GRANDLIVRE_FOLLOW_UP_DAYS", FOLLOW_UP_DAYS_DEFAULT))
    return days or None


def product_follow_up(product: LoanProduct, institution_default: int | None) -> int | None:
    """Days overdue after which a product's loans go on their officer's follow-up list: its own
    `follow_up_days_overdue`, else the institution's (`follow_up_after_days`; None: no list)."""
    return product.follow_up_days_overdue if product.follow_up_days_overdue is not None else institution_default


def reminder_days_before_due() -> int:
    """GRANDLIVRE_REMINDER_DAYS: the institution's notice before a due date (default 3), for the
    products that leave their own `reminder_days_before_due` unset."""
    return int(os.environ.get("GRANDLIVRE_REMINDER_DAYS", DAYS_BEFORE_DUE_DEFAULT))


def product_notice(product: LoanProduct, institution_default: int) -> int:
    """The notice a product's loans get before each due date: its own, else the institution's."""
    return product.reminder_days_before_due if product.reminder_days_before_due is not None else institution_default


UNOWED_KINDS: Final = ("accrual", "accrual_adjustment", "reclassification")
"""Loan transactions that change no amount owed (income recognised, an outstanding moved between
classified accounts): a quiet loan stays quiet through them."""

_IN_SCOPE: Final = office_set_condition("l.office_id")
"""The loans of the offices closing the day (every loan for an institution close)."""

_LOAN_NOTICE: Final = """COALESCE((CAST(:notice_days AS int[]))[array_position(CAST(:notice_products AS text[]),
                                   CAST(l.product_id AS text) || ':' || CAST(l.product_version AS text))],
                                  CAST(:notice_max AS int))"""
"""The notice of the loan's product version (`product_notice`, passed per product version read
at the start of the run); the longest notice of the run for one not passed (none: re-derived)."""

_NOTICES_SENT: Final = f"""
    s.next_due_date > :day AND (s.next_due_date > :horizon OR NOT EXISTS (
        SELECT 1 FROM jsonb_array_elements(l.schedule -> 'instalments') AS i
         WHERE CAST(i ->> 'due_date' AS date) > :day
           AND CAST(i ->> 'due_date' AS date) - CAST(:day AS date) <= {_LOAN_NOTICE}
           AND NOT EXISTS (SELECT 1 FROM outbox_event o
                            WHERE o.dedup_key = 'instalment_due:loan-' || l.id || ':' || (i ->> 'number') || ':'
                                                || (i ->> 'due_date'))))
"""
"""No instalment falls due on the day or before (the next unpaid one is after it), and none
falls due within the notice of the loan's product whose notice has not been announced yet (the
reminder's `dedup_key` in the outbox, as `products.loans.reminders` names it): the day announces
no notice. Within the notice, a loan is re-derived only on the day a notice starts, not on each
day of it. ``:horizon`` is the day plus the longest notice of the run's products: a loan whose
next due date is beyond it (most loans) is decided without reading its schedule."""

_UNCHANGED: Final = f"""
        s.business_date <= :day AND s.status = 'performing' AND s.days_overdue = 0 AND s.overdue_amount = 0
    AND {_NOTICES_SENT} AND s.transactions_seen IS NOT NULL AND l.updated_at <= s.updated_at
    AND l.rescheduled_on IS NULL
    AND s.bucket_label IS NOT DISTINCT FROM CAST(:current_bucket AS text)
    AND s.classification = :current_class AND s.provision_rate_percent = :current_rate
    AND (CAST(l.product_id AS text) || ':' || CAST(l.product_version AS text)) <> ALL(CAST(:recalculating AS text[]))
    AND NOT EXISTS (SELECT 1 FROM loan_transaction t
                     WHERE t.loan_id = l.id AND t.value_date <= :day
                       AND (t.value_date > s.business_date OR t.sequence_number > s.transactions_seen)
                       AND t.kind <> ALL(CAST(:unowed_kinds AS text[])))
"""
"""A loan whose state cannot have changed since it was aged: current (nothing overdue), its next
unpaid instalment due after the day and no notice to announce (`_NOTICES_SENT`), no transaction
come into its history since (none value-dated after that day, none recorded after the last one it
read; the day's accruals and reclassifications change no amount owed and do not count), the loan row not changed since (a schedule rewritten, a status), still graded in the
current bucket of 0 days (of the loans' grid: a rescheduled loan, graded on its own grid, is
always re-derived), and a product that does not recalculate its schedule day by day."""

_CARRIED: Final = f"""
        s.business_date < :day AND s.transactions_seen IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM loan_schedule_change c WHERE c.loan_id = l.id AND c.changed_at >= s.updated_at)
    AND (s.next_due_date IS NULL OR {_NOTICES_SENT})
    AND (CAST(l.product_id AS text) || ':' || CAST(l.product_version AS text)) <> ALL(CAST(:recalculating AS text[]))
    AND NOT EXISTS (SELECT 1 FROM loan_transaction t
                     WHERE t.loan_id = l.id AND t.value_date <= :day
                       AND (t.value_date > s.business_date OR t.sequence_number > s.transactions_seen)
                       AND t.kind <> ALL(CAST(:unowed_kinds AS text[])))
"""
"""A loan aged on an earlier day to which nothing has happened since (as `_UNCHANGED`, late or
not): no transaction that changes what it owes, no change of its schedule, terms, status or
rescheduling (`loan_schedule_change`: a new booked class does not count), and its next unpaid
instalment due after the day (so none fell due since it was aged: the same instalments are
overdue) with no notice to announce (`_NOTICES_SENT`). Its arrears follow from its state alone."""

_ACTIVE: Final = f"{LOAN_OPEN_ON_DAY} AND l.schedule IS NOT NULL AND l.disbursed_on <= :day AND " + _IN_SCOPE
"""The loans open on the day (a catch-up ages a loan closed since as it stood then)."""

PREVIOUS_STATUS: Final = """CASE WHEN s.business_date < :day THEN s.status
                                 WHEN s.business_date = :day THEN s.prior_status END"""
"""The arrears status of ``s``'s loan at the close before ``:day``: the stored state's when it is
of an earlier day, the one it replaced when the day was already aged (a re-run: not what the
first run wrote); NULL when unknown (never aged before, or aged on a later day)."""

_KEEP_UNCHANGED = text(f"""
    UPDATE loan_arrears_state s SET business_date = :day,
           prior_status = CASE WHEN s.business_date < :day THEN s.status ELSE s.prior_status END
      FROM loan l
     WHERE l.id = s.loan_id AND {_ACTIVE} AND {_UNCHANGED}
    RETURNING s.loan_id AS id
""")
"""The quiet part of the day, in one statement: the unchanged loans' states are carried to the
day as they are (the reports read each loan's state as of the last close)."""

_TO_AGE = text(f"SELECT l.id FROM loan l WHERE {_ACTIVE} ORDER BY l.id")
"""The active loans, in one set-based read: those not kept unchanged are carried if they can be
(`_CARRY`), the rest aged (the chunks then fetch their loans by id, by index, instead of each
re-reading the portfolio to find its next 500)."""

_CARRY = text(f"""
    SELECT l.id, l.product_id, l.product_version, l.rescheduled_on, s.business_date, s.days_overdue, s.overdue_amount,
           s.overdue_principal, s.outstanding_principal, s.ageing_instalment, s.status, s.next_due_date,
           (SELECT max(t.sequence_number) FROM loan_transaction t WHERE t.loan_id = l.id AND t.value_date <= :day)
               AS seen
      FROM loan l JOIN loan_arrears_state s ON s.loan_id = l.id
     WHERE l.id = ANY(:ids) AND {_ACTIVE} AND {_CARRIED}
     ORDER BY l.id
       FOR UPDATE OF l
""")
"""A chunk of the loans to carry, locked in id order and checked again under the lock."""

_LOANS = text(f"""
    SELECT l.id, l.office_id, l.product_id, l.product_version, l.currency, CAST(l.terms AS text) AS terms,
           CAST(l.schedule AS text) AS schedule, c.loan_officer, l.rescheduled_on, l.status AS loan_status,
           {PREVIOUS_STATUS} AS previous_status
      FROM loan l
      LEFT JOIN client c ON c.id = l.client_id
      LEFT JOIN loan_arrears_state s ON s.loan_id = l.id
     WHERE l.id = ANY(:ids) AND {LOAN_OPEN_ON_DAY} AND l.schedule IS NOT NULL
     ORDER BY l.id
       FOR UPDATE OF l
""")

_TRANSACTIONS = text("""
    SELECT loan_id, id, kind, reverses_transaction_id, CAST(allocation AS text) AS allocation, value_date, principal,
           sequence_number
      FROM loan_transaction WHERE loan_id = ANY(:ids) AND value_date <= :day ORDER BY loan_id, sequence_number
""")


class _Transaction(NamedTuple):
    """A row of a loan's history, with its allocation decoded (msgspec, faster than the driver's
    json for the many rows of a day)."""

    loan_id: int
    id: int
    kind: str
    reverses_transaction_id: int | None
    allocation: Any
    value_date: date
    principal: Decimal
    sequence_number: int


_STATE = text("""
    INSERT INTO loan_arrears_state AS s (loan_id, business_date, days_overdue, overdue_amount, overdue_principal,
                                         outstanding_principal, ageing_instalment, status, bucket_label,
                                         classification, provision_rate_percent, next_due_date, transactions_seen)
    SELECT * FROM unnest(CAST(:loans AS int[]), CAST(:dates AS date[]), CAST(:days AS int[]),
                         CAST(:overdue AS numeric[]), CAST(:overdue_principal AS numeric[]),
                         CAST(:outstanding AS numeric[]), CAST(:ageing AS int[]), CAST(:statuses AS text[]),
                         CAST(:buckets AS text[]), CAST(:classes AS text[]), CAST(:rates AS numeric[]),
                         CAST(:next_due AS date[]), CAST(:seen AS int[]))
    ON CONFLICT (loan_id) DO UPDATE
       SET business_date = EXCLUDED.business_date, days_overdue = EXCLUDED.days_overdue,
           overdue_amount = EXCLUDED.overdue_amount, overdue_principal = EXCLUDED.overdue_principal,
           outstanding_principal = EXCLUDED.outstanding_principal, ageing_instalment = EXCLUDED.ageing_instalment,
           prior_status = CASE WHEN s.business_date < EXCLUDED.business_date THEN s.status ELSE s.prior_status END,
           status = EXCLUDED.status, bucket_label = EXCLUDED.bucket_label, classification = EXCLUDED.classification,
           provision_rate_percent = EXCLUDED.provision_rate_percent, next_due_date = EXCLUDED.next_due_date,
           transactions_seen = EXCLUDED.transactions_seen, updated_at = now()
     WHERE s.business_date <= EXCLUDED.business_date
""")

_ANNOUNCED = text("SELECT dedup_key FROM outbox_event WHERE dedup_key = ANY(:keys)")

_PRODUCT_VERSIONS = text(f"SELECT DISTINCT l.product_id, l.product_version FROM loan l WHERE {_ACTIVE}")

_SAFETY_GRID: Final = (DelinquencyBucket(label="Sans grille", days_overdue_min=0, days_overdue_max=None,
                                         loan_state=LoanState.HEALTHY, provision_rate_percent=Decimal(0)),)
"""Used only when no loan grid is configured: every loan healthy at 0 %, bucket named as such."""


async def loan_grid(uow_factory: UnitOfWorkFactory, kind: BucketKind = BucketKind.LOAN
                    ) -> tuple[DelinquencyBucket, ...]:
    """A delinquency grid in force (read once per run, not per chunk). The rescheduled-loans
    grid falls back to the loans' when none is configured (`classification.grade`)."""
    stored = await buckets.list_buckets(uow_factory(), kind)
    found = tuple(found.bucket for found in stored)
    if not found and kind is not BucketKind.LOAN:
        return await loan_grid(uow_factory)
    return found or _SAFETY_GRID


async def age_loans(uow_factory: UnitOfWorkFactory, day: date, actor: str,
                    scope: OfficeScope | None = None, *, loans: Sequence[int] | None = None,
                    previous_status: Mapping[int, str] | None = None) -> StepOutcome:
    """Age the active loans of the scope (an office and its branches; None: the institution):
    first, in one statement, carry the unchanged ones to the day; then, by chunks of loans
    locked in id order, every other one (one query for the chunk's loans, one for their
    transactions, one multi-row write of their states, one for their reminders).

    ``loans``: age only these loans, and ``previous_status`` their status at the previous close
    when the stored state is not it (a restatement re-deriving the days, `per_loan`)."""
    notice, follow_up = reminder_days_before_due(), follow_up_after_days()
    grids = {kind: await loan_grid(uow_factory, kind) for kind in (BucketKind.LOAN, BucketKind.RESCHEDULED_LOAN)}
    offices = None if scope is None or scope.whole_institution else sorted(scope.office_ids)
    products: dict[tuple[int, int], tuple[LoanProduct, ArrearsPolicy]] = {}
    async with uow_factory() as uow:
        for version in (await uow.session.execute(_PRODUCT_VERSIONS, {"day": day, "offices": offices})).all():
            product = await get_product_in(uow, version.product_id, version.product_version)
            products[(version.product_id, version.product_version)] = (product, ArrearsPolicy.of(product))
    current = grade(0, grids[BucketKind.LOAN])
    notices = {f"{p}:{v}": product_notice(product, notice) for (p, v), (product, _) in products.items()}
    notice_max = max(notices.values(), default=notice)
    unchanged_if = {"day": day, "offices": offices, "horizon": day + timedelta(days=notice_max),
                    "notice_products": list(notices), "notice_days": list(notices.values()),
                    "notice_max": notice_max,
                    "current_bucket": current.bucket_label, "current_class": current.classification.value,
                    "current_rate": current.provision_rate_percent,
                    "recalculating": [f"{p}:{v}" for (p, v), (product, _) in products.items()
                                      if product.interest_recalculation],
                    "unowed_kinds": list(UNOWED_KINDS)}
    if loans is not None:
        to_age: list[int] = sorted(loans)
        unchanged = 0
        per_status: dict[str, int] = {}
        carried: set[int] = set()
        derive: set[int] = set()
    else:
        async with uow_factory() as uow:
            kept = set(await ids_of(uow, _KEEP_UNCHANGED, unchanged_if))
            await uow.commit()
        unchanged = len(kept)
        per_status = {ArrearsStatus.PERFORMING.value: unchanged} if unchanged else {}
        async with uow_factory() as uow:
            candidates = [loan_id for loan_id in await ids_of(uow, _TO_AGE, unchanged_if) if loan_id not in kept]
        carried, derive = await _carry(uow_factory, day, unchanged_if, grids, products, follow_up, per_status,
                                       candidates)
        to_age = [loan_id for loan_id in candidates if loan_id not in carried or loan_id in derive]
    aged = reminders = 0
    for start in range(0, len(to_age), CHUNK_LOANS):
        async with uow_factory() as uow:
            session = uow.session
            chunk = named_rows(await session.execute(_LOANS, {"ids": to_age[start:start + CHUNK_LOANS], "day": day}))
            history: dict[int, list[_Transaction]] = {}
            for row in (await session.execute(_TRANSACTIONS, {"ids": [r.id for r in chunk], "day": day})).all():
                history.setdefault(row.loan_id, []).append(_Transaction(
                    row.loan_id, row.id, row.kind, row.reverses_transaction_id, _decode_json(row.allocation),
                    row.value_date, row.principal, row.sequence_number))
            columns: dict[str, list[Any]] = {name: [] for name in _STATE_COLUMNS}
            due_reminders: list[tuple[Any, Reminder]] = []
            for loan in chunk:
                key = (loan.product_id, loan.product_version)
                if key not in products:
                    product = await get_product_in(uow, *key)
                    products[key] = (product, ArrearsPolicy.of(product))
                product, policy = products[key]
                rows = history.get(loan.id, [])
                _schedule, position = position_from_history(
                    _decode_terms(loan.terms), _decode_schedule(loan.schedule), product, rows, day)
                # The status of the close before the day, also on a re-run of the day (not the state
                # the first run wrote: a loan held in NPA until fully paid would be let out).
                previous = (ArrearsStatus(loan.previous_status) if loan.previous_status is not None
                            else ArrearsStatus.PERFORMING)
                if previous_status is not None and loan.id in previous_status:
                    previous = ArrearsStatus(previous_status[loan.id])
                arrears = age_arrears(position.instalments, day, policy, previous_status=previous)
                # A rescheduled loan is graded on the rescheduled-loans grid for the rest of its life.
                grid = grids[grid_kind(overdraft=False, rescheduled=loan.rescheduled_on is not None)]
                loan_grade = grade(arrears.days_overdue, grid,
                                   non_performing=arrears.status is ArrearsStatus.NON_PERFORMING)
                principal = position.component(Component.PRINCIPAL)
                upcoming = position.next_instalment
                _add_state(columns, loan.id, day, arrears, loan_grade, overdue_principal=principal.overdue,
                           outstanding=principal.outstanding,
                           next_due=upcoming.due_date if upcoming is not None else None,
                           seen=max((r.sequence_number for r in rows), default=0))
                per_status[arrears.status.value] = per_status.get(arrears.status.value, 0) + 1
                if loan.loan_status != "active":
                    continue  # closed since the day (a catch-up): no reminder or follow-up for a settled loan
                due_reminders += [(loan, reminder) for reminder in reminders_for(
                    loan.id, position.instalments, arrears, day, days_before_due=product_notice(product, notice),
                    follow_up_after_days=product_follow_up(product, follow_up))]
            await session.execute(_STATE, columns)
            # An overdue instalment is announced once but found overdue every day: write only the
            # facts the outbox does not hold yet (one indexed read instead of a conflicting insert each).
            announced = set((await session.scalars(_ANNOUNCED, {
                "keys": [reminder.dedup_key for _loan, reminder in due_reminders]})).all()) if due_reminders else set()
            reminders += await record_events(uow, [OutboxEvent(
                event_type=reminder.kind.value, subject_type="loan", subject_id=loan.id, occurred_on=day,
                dedup_key=reminder.dedup_key, office_id=loan.office_id, payload={
                    "loan_id": loan.id, "instalment": reminder.instalment,
                    "due_date": reminder.due_date.isoformat() if reminder.due_date else None,
                    "amount": str(reminder.amount), "currency": loan.currency.strip(),
                    "days_overdue": reminder.days_overdue, "loan_officer": loan.loan_officer})
                for loan, reminder in due_reminders if reminder.dedup_key not in announced])
            await uow.commit()
        aged += len(chunk)
    carried_only = len(carried) - len(derive)
    return StepOutcome(items=aged + unchanged + carried_only, entries=0, detail={
        **{f"loans_{status}": str(count) for status, count in sorted(per_status.items())},
        "loans_unchanged": str(unchanged), "loans_carried": str(carried_only), "reminders": str(reminders),
        "actor": actor})


async def _carry(uow_factory: UnitOfWorkFactory, day: date, unchanged_if: dict[str, Any],
                 grids: dict[BucketKind, tuple[DelinquencyBucket, ...]],
                 products: dict[tuple[int, int], tuple[LoanProduct, ArrearsPolicy]], follow_up: int | None,
                 per_status: dict[str, int], candidates: Sequence[int]) -> tuple[set[int], set[int]]:
    """Carry the late loans to which nothing happened (`_CARRIED`) to the day, by chunks locked
    in id order: arrears from `carry_arrears`, grade from the grid, the rest of the state as it
    was (the history read is the same). ``candidates``: the active loans not kept unchanged,
    each chunk's found carried under its lock (one reading of the condition, not a first pass
    over the portfolio to find them). Returns the loans carried or left to the full derivation
    (the others, the caller ages), and among them those left to the full derivation because the
    day announces their follow-up task."""
    looked_at: set[int] = set()
    derive: set[int] = set()
    for start in range(0, len(candidates), CHUNK_LOANS * 4):
        async with uow_factory() as uow:
            session = uow.session
            ids = candidates[start:start + CHUNK_LOANS * 4]
            rows = named_rows(await session.execute(_CARRY, {**unchanged_if, "ids": ids}))
            columns: dict[str, list[Any]] = {name: [] for name in _STATE_COLUMNS}
            follow_ups: dict[str, int] = {}
            states: list[tuple[Any, Arrears]] = []
            for row in rows:
                product, policy = products[(row.product_id, row.product_version)]
                arrears = carry_arrears(Arrears(
                    as_of=row.business_date, overdue_amount=row.overdue_amount, days_overdue=row.days_overdue,
                    ageing_instalment=row.ageing_instalment, status=ArrearsStatus(row.status)), day, policy)
                states.append((row, arrears))
                if (task := follow_up_reminder(row.id, arrears, product_follow_up(product, follow_up))) is not None:
                    follow_ups[task.dedup_key] = row.id
            announced = set((await session.scalars(_ANNOUNCED, {"keys": list(follow_ups)})).all()) if follow_ups else set()
            derive.update(loan_id for key, loan_id in follow_ups.items() if key not in announced)
            for row, arrears in states:
                if row.id in derive:
                    continue
                grid = grids[grid_kind(overdraft=False, rescheduled=row.rescheduled_on is not None)]
                loan_grade = grade(arrears.days_overdue, grid,
                                   non_performing=arrears.status is ArrearsStatus.NON_PERFORMING)
                _add_state(columns, row.id, day, arrears, loan_grade, overdue_principal=row.overdue_principal,
                           outstanding=row.outstanding_principal, next_due=row.next_due_date, seen=row.seen or 0)
                per_status[arrears.status.value] = per_status.get(arrears.status.value, 0) + 1
            if columns["loans"]:
                await session.execute(_STATE, columns)
            await uow.commit()
        looked_at.update(row.id for row in rows)
    return looked_at, derive


_STATE_COLUMNS: Final = ("loans", "dates", "days", "overdue", "overdue_principal", "outstanding", "ageing", "statuses",
                         "buckets", "classes", "rates", "next_due", "seen")


def _add_state(columns: dict[str, list[Any]], loan_id: int, day: date, arrears: Arrears, loan_grade: Any, *,
               overdue_principal: Decimal, outstanding: Decimal, next_due: date | None, seen: int) -> None:
    """One loan's row of the `_STATE` write."""
    for name, value in (("loans", loan_id), ("dates", day), ("days", arrears.days_overdue),
                        ("overdue", arrears.overdue_amount), ("overdue_principal", overdue_principal),
                        ("outstanding", outstanding), ("ageing", arrears.ageing_instalment),
                        ("statuses", arrears.status.value), ("buckets", loan_grade.bucket_label),
                        ("classes", loan_grade.classification.value),
                        ("rates", loan_grade.provision_rate_percent), ("next_due", next_due), ("seen", seen)):
        columns[name].append(value)


_decode_terms = msgspec.json.Decoder(LoanTerms).decode
_decode_schedule = msgspec.json.Decoder(Schedule).decode
_decode_json = msgspec.json.Decoder().decode
