"""Operator errors of the product catalogue and of posting-rule evaluation. They are
`LedgerError`s (products depend on the ledger), so the API answers them with a 422
problem naming the field, e.g. ``terms.principal.default`` or ``parts[1].component``."""

from __future__ import annotations

from ledger.errors import LedgerError


class ProductError(LedgerError):
    """A product setting that breaks a rule (min > max, unknown charge, wrong account type)."""

    code = "invalid-product"
    status_hint = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.message = message


class PostingError(LedgerError):
    """An event the product's posting rules cannot turn into an entry."""

    code = "invalid-product-event"
    status_hint = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.message = message
