"""Shared by the close-of-business tests: an SFD chart mapping (accrual periodic) and a terse
way to read the journal lines an event posts, as an accountant writes them."""

from __future__ import annotations

from products.accounting import ClassifiedAccount, ProductAccounting, posting_lines
from products.events import LoanClassification, ProductEvent, TermBucket
from products.posting_rules import AccountingRole, AccountingRule, ProductKind, roles_used

R = AccountingRole
SFD: dict[AccountingRole, str] = {
    R.FUND_SOURCE: "1012", R.LOAN_PORTFOLIO: "2022", R.INTEREST_RECEIVABLE: "2071", R.FEES_RECEIVABLE: "2072",
    R.PENALTIES_RECEIVABLE: "2073", R.INTEREST_INCOME: "7021", R.FEE_INCOME: "7022", R.PENALTY_INCOME: "7023",
    R.RECOVERY_INCOME: "762", R.LOSSES_WRITTEN_OFF: "665", R.OVERPAYMENT_LIABILITY: "342",
    R.TRANSFERS_SUSPENSE: "371", R.VAT_PAYABLE: "343", R.PROVISION_EXPENSE: "662", R.PROVISIONS: "2991",
    R.PROVISION_REVERSAL_INCOME: "761",
}
"""Caisse 1012, crédits à court terme 2022, créances rattachées 207x, produits 702x, TAF 343,
dotations 662, provisions 2991, reprises 761, pertes 665, récupérations 762 (the shipped SFD chart)."""

DOUBTFUL_PORTFOLIO = "292"
DOUBTFUL_INTEREST_RECEIVABLE = "2927"
PENALTY_CHARGE_ID = 7


def sfd_accounting(rule: AccountingRule = AccountingRule.ACCRUAL_PERIODIC) -> ProductAccounting:
    """The SFD mapping; doubtful short-term loans on 292, their interest on 2927, and the penalty
    charge on 70231: sub-accounts an institution opens itself (illustrative, not in the template)."""
    classified = tuple(
        ClassifiedAccount(classification=LoanClassification.DOUBTFUL, term=TermBucket.SHORT, role=role,
                          account_code=code)
        for role, code in ((R.LOAN_PORTFOLIO, DOUBTFUL_PORTFOLIO), (R.INTEREST_RECEIVABLE, DOUBTFUL_INTEREST_RECEIVABLE)))
    return ProductAccounting(rule=rule, accounts={role: SFD[role] for role in roles_used(ProductKind.LOAN, rule)},
                             charge_accounts={PENALTY_CHARGE_ID: "70231"}, classified_accounts=classified)


def journal(event: ProductEvent | None, rule: AccountingRule = AccountingRule.ACCRUAL_PERIODIC
            ) -> list[tuple[str, str, str]]:
    """("D" or "C", account, amount) per line, debits first: what the event posts."""
    if event is None:
        return []
    return [(line.side.value[0].upper(), line.account_code, str(line.amount))
            for line in posting_lines(ProductKind.LOAN, sfd_accounting(rule), event)]
