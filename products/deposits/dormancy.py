"""Dormancy: an account whose client has not moved money for longer than the product's
dormancy days turns dormant ("compte inactif"). Pure: dates in, a yes or no out.

Only the client's own movements count (a deposit, a withdrawal, an outgoing transfer); interest,
fees, reversals and money received from someone else do not. A dormant account still earns its
interest and still takes deposits, but refuses withdrawals and outgoing transfers until a
member of staff reactivates it (after checking the client's identity); money paid into a
dormant account does not wake it up on its own.
"""

from __future__ import annotations

from datetime import date

from products.deposits.product import DORMANCY_DAYS_MAX


def last_activity(last_client_movement_on: date | None, activated_on: date | None) -> date | None:
    """The day dormancy counts from: the client's last own movement, else the activation."""
    if last_client_movement_on is None:
        return activated_on
    if activated_on is None:
        return last_client_movement_on
    return max(last_client_movement_on, activated_on)


def is_dormant(last_activity_on: date | None, on: date, dormancy_days: int | None) -> bool:
    """True when more than ``dormancy_days`` whole days separate ``on`` from the last activity.

    ``None`` days: the product never makes accounts dormant; no activity yet (a pending
    account): not dormant. Example: 30 days, last movement on 1 March: still active on
    31 March, dormant from 1 April.
    """
    if dormancy_days is None or last_activity_on is None:
        return False
    assert 1 <= dormancy_days <= DORMANCY_DAYS_MAX, dormancy_days
    return (on - last_activity_on).days > dormancy_days
