"""Classification: the shipped RCSFD grid, the term buckets, and the reclassification entry."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from products.events import LoanClassification, TermBucket
from products.loans.booking import TermBuckets, term_bucket
from products.loans.classification import decide_class, grade, grid_kind
from products.posting_rules import AccountingRule
from products.reference.model import BucketKind, DelinquencyBucket, LoanState
from products.reference.validation import validate_bucket_grid
from servicing.reference.defaults import BCEAO_GRID
from tests.products.cob_support import journal

D = Decimal
HEALTHY, DOUBTFUL = LoanClassification.HEALTHY, LoanClassification.DOUBTFUL


@pytest.mark.parametrize(("days", "label", "classification", "rate"), [
    (0, "0 à 3 mois (provision facultative)", HEALTHY, 0),
    (90, "0 à 3 mois (provision facultative)", HEALTHY, 0),
    (91, "Plus de 3 à 6 mois (2991)", DOUBTFUL, 40),
    (180, "Plus de 3 à 6 mois (2991)", DOUBTFUL, 40),
    (181, "Plus de 6 à 12 mois (2992)", DOUBTFUL, 80),
    (366, "Plus de 12 à 24 mois (2993)", DOUBTFUL, 100),
    (731, "Plus de 24 mois (irrécouvrable, passage en perte)", DOUBTFUL, 100),
])
def test_the_rcsfd_grid(days: int, label: str, classification: LoanClassification, rate: int) -> None:
    loan_grade = grade(days, BCEAO_GRID)
    assert (loan_grade.bucket_label, loan_grade.classification, loan_grade.provision_rate_percent) == (
        label, classification, D(rate))


def test_a_non_performing_loan_is_doubtful_in_a_healthy_bucket() -> None:
    # Held in NPA until its arrears are paid, 10 days late: healthy bucket, doubtful class, no provision rate.
    held = grade(10, BCEAO_GRID, non_performing=True)
    assert (held.classification, held.provision_rate_percent) == (DOUBTFUL, D(0))


def test_a_grid_starting_late_leaves_the_first_days_healthy() -> None:
    grid = [DelinquencyBucket(label="Douteux", days_overdue_min=31, days_overdue_max=None,
                              loan_state=LoanState.DOUBTFUL, provision_rate_percent=D(50))]
    assert (grade(30, grid).bucket_label, grade(30, grid).classification) == (None, HEALTHY)


def test_grid_and_term() -> None:
    assert grid_kind(overdraft=False, rescheduled=False) is BucketKind.LOAN
    assert grid_kind(overdraft=True, rescheduled=False) is BucketKind.OVERDRAFT
    assert grid_kind(overdraft=True, rescheduled=True) is BucketKind.RESCHEDULED_LOAN
    assert [term_bucket(m, TermBuckets()) for m in (1, 24, 25, 120, 121)] == [
        TermBucket.SHORT, TermBucket.SHORT, TermBucket.MEDIUM, TermBucket.MEDIUM, TermBucket.LONG]
    limits = TermBuckets(short_term_months_max=6, medium_term_months_max=36)
    assert term_bucket(12, limits) is TermBucket.MEDIUM


def test_declassification_moves_the_whole_outstanding() -> None:
    # 91 days late: 850,000 principal and 12,000 accrued interest leave the healthy accounts for the doubtful ones.
    decision = decide_class(HEALTHY, grade(91, BCEAO_GRID).classification, automatic=True, term=TermBucket.SHORT,
                            principal_outstanding=D(850_000), interest_receivable=D(12_000))
    assert (decision.applied, decision.awaiting_decision) == (DOUBTFUL, False)
    assert decision.movement is not None
    # Dr 292 crédits en souffrance 850,000, Dr 2927 intérêts sur créances en souffrance 12,000
    # Cr 2022 crédits à court terme 850,000, Cr 2071 intérêts courus 12,000.
    assert journal(decision.movement.event("XOF")) == [
        ("D", "292", "850000"), ("D", "2927", "12000"), ("C", "2022", "850000"), ("C", "2071", "12000")]
    # Cash accounting has no interest receivable to move: only the principal moves.
    assert journal(decision.movement.event("XOF"), AccountingRule.CASH) == [
        ("D", "292", "850000"), ("C", "2022", "850000")]
    # Back to healthy once the arrears are paid: the reverse entry.
    back = decide_class(DOUBTFUL, HEALTHY, automatic=True, term=TermBucket.SHORT,
                        principal_outstanding=D(600_000), interest_receivable=D(0))
    assert back.movement is not None
    assert journal(back.movement.event("XOF")) == [("D", "2022", "600000"), ("C", "292", "600000")]


def test_without_automatic_declassification_the_run_only_proposes() -> None:
    decision = decide_class(HEALTHY, DOUBTFUL, automatic=False, term=TermBucket.SHORT,
                            principal_outstanding=D(850_000), interest_receivable=D(0))
    assert (decision.required, decision.applied, decision.movement, decision.awaiting_decision) == (
        DOUBTFUL, HEALTHY, None, True)
    unchanged = decide_class(DOUBTFUL, DOUBTFUL, automatic=True, term=TermBucket.SHORT,
                             principal_outstanding=D(1), interest_receivable=D(0))
    assert (unchanged.movement, unchanged.awaiting_decision) == (None, False)


bucket_bounds = st.lists(st.integers(1, 60), min_size=1, max_size=6)


@given(widths=bucket_bounds, rates=st.lists(st.integers(0, 100), min_size=6, max_size=6),
       doubtful_from=st.integers(0, 6), days=st.integers(0, 500), more=st.integers(0, 500))
def test_a_later_loan_is_never_healthier_nor_less_provisioned(widths, rates, doubtful_from, days, more) -> None:  # type: ignore[no-untyped-def]
    grid, start, ordered = [], 0, sorted(rates)
    for index, width in enumerate(widths):
        last = index == len(widths) - 1
        grid.append(DelinquencyBucket(label=f"B{index}", days_overdue_min=start,
                                      days_overdue_max=None if last else start + width - 1,
                                      loan_state=LoanState.DOUBTFUL if index >= doubtful_from else LoanState.HEALTHY,
                                      provision_rate_percent=D(ordered[index])))
        start += width
    grid = validate_bucket_grid(grid)
    early, late = grade(days, grid), grade(days + more, grid)
    assert late.provision_rate_percent >= early.provision_rate_percent
    assert not (early.classification is DOUBTFUL and late.classification is HEALTHY)
