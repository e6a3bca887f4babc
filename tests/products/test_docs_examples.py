"""The product examples of docs/products.md decode into the product types and pass their
rules, so the administrator's guide cannot drift from the API."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from products.deposits.product import DepositProduct, validate_deposit_product
from products.loans.product import LoanProduct
from products.loans.product_rules import validate_loan_product
from products.term_deposits.product import TermDepositProduct, validate_term_deposit_product

DOC = Path(__file__).resolve().parents[2] / "docs" / "products.md"
KINDS = {"/api/v1/loan-products": (LoanProduct, validate_loan_product),
         "/api/v1/deposit-products": (DepositProduct, validate_deposit_product),
         "/api/v1/term-deposit-products": (TermDepositProduct, validate_term_deposit_product)}
EXAMPLES = re.findall(r"```http\nPOST (/api/v1/[a-z-]+)\n(\{.*?\})\n```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_guide_has_an_example_per_kind() -> None:
    assert sorted(path for path, _ in EXAMPLES) == sorted(KINDS)


@pytest.mark.parametrize(("path", "body"), EXAMPLES, ids=[path for path, _ in EXAMPLES])
def test_each_example_is_a_valid_product(path: str, body: str) -> None:
    settings_type, validate = KINDS[path]
    product = msgspec.json.decode(body.encode(), type=settings_type)
    assert validate(product) == []  # type: ignore[operator]
