"""Which loans a close-of-business step takes for a day: the loans open on that day.

A catch-up run closes days an office missed, after events entered since (issue 9, item 1). A
loan paid off, written off or otherwise closed after day D was still open on D: its ageing for
D must see it as it stood then (its position from the transactions value-dated up to D). The
steps therefore select loans by their status *on the day*, not now: active, or closed on a
later day (`loan.closed_on`, migration 0042). One fragment, used by every step that reads the
state of a day, so they agree on it.

The steps that *post* amounts owed or moved (penalties, charges, collection, instalment savings,
write-off by rule, reclassification and provisioning of a loan still in the portfolio) keep to
the loans active now: a closed loan's closing movement settled what it owed and brought its
receivables, class accounts and provisions to their end (`servicing.loans.receivable_true_up`,
the provision release on payoff). Charging, reclassifying or provisioning it afterwards for an
earlier day would leave balances on a closed loan that nothing unwinds (see
docs/close-of-business.md, "Catching up missed days").
"""

from __future__ import annotations

from typing import Final

LOAN_OPEN_ON_DAY: Final = (
    "(l.status = 'active' OR (l.status IN ('closed', 'written_off') AND l.closed_on > :day))")
"""The loan ``l`` was open (disbursed and not yet closed) at the close of ``:day``, provided it
was disbursed by then (the steps add ``l.disbursed_on <= :day``)."""

LOAN_CLOSED_BY_DAY: Final = "(l.status = 'closed' AND l.closed_on <= :day)"
"""The loan ``l`` was repaid and closed by the close of ``:day`` (not merely now)."""
