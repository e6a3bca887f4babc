"""`grandlivre demo`'s product set, mapped onto the shipped SFD/UEMOA chart: an agricultural
loan (flat interest, 3-month principal grace, cash accounting), a salary loan (declining
balance, accrual accounting), a solidarity group loan, a current account with overdraft and a
12-month term deposit with a rate chart and an incentive for women. The reference rows they
name (fund sources, payment types, charges) are created first when missing. Running it again
creates nothing new: everything is found by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import select

from products.accounting import ClassifiedAccount, ProductAccounting
from products.catalogue.common import AmountRange, CountRange, ProductIdentity
from products.deposits.product import DepositProduct, DepositType, Overdraft
from products.events import LoanClassification, TermBucket
from products.loans.product import (
    GroupLending,
    Guarantees,
    GuarantorRule,
    LoanProduct,
    MandatorySavings,
    OverduePenalty,
    PenaltyBase,
    RateOrFlat,
    SocialShares,
)
from products.loans.terms import (
    AmortizationMethod,
    InterestCalculationPeriod,
    InterestMethod,
    RepaymentFrequencyUnit,
)
from products.posting_rules import AccountingRole, AccountingRule, ProductKind, roles_allowed
from products.reference.db.tables import ChargeRow, FundSourceRow, PaymentTypeRow
from products.reference.model import ChargeAppliesTo, ChargeCalculation, ChargeDefinition, ChargeTime
from products.term_deposits.product import (
    ClientAttribute,
    Incentive,
    IncentiveKind,
    Operator,
    PenaltyBasis,
    PrematureClosurePenalty,
    RateChart,
    RateSlab,
    TermDepositProduct,
    TermLength,
)
from servicing.products import service
from servicing.products.kinds import Settings, kind_of
from servicing.reference import catalogue, lists
from servicing.reference import defaults as reference_defaults
from servicing.unit_of_work import UnitOfWorkFactory

DEMO_ACTOR: Final = "demo"
DEMO_OPEN_DATE: Final = date(2026, 1, 1)
R = AccountingRole
D = Decimal

SFD_ACCOUNTS: Final[Mapping[AccountingRole, str]] = {
    R.FUND_SOURCE: "1012",  # caisse agence
    R.LOAN_PORTFOLIO: "2022",  # crédits ordinaires à court terme
    R.INTEREST_RECEIVABLE: "2071",
    R.FEES_RECEIVABLE: "2072",
    R.PENALTIES_RECEIVABLE: "2073",
    R.INTEREST_INCOME: "7021",
    R.FEE_INCOME: "7022",
    R.PENALTY_INCOME: "7023",
    R.RECOVERY_INCOME: "762",
    R.LOSSES_WRITTEN_OFF: "665",
    R.OVERPAYMENT_LIABILITY: "342",
    R.TRANSFERS_SUSPENSE: "371",
    R.VAT_PAYABLE: "343",  # TAF à reverser
    R.PROVISION_EXPENSE: "662",
    R.PROVISIONS: "2991",
    R.PROVISION_REVERSAL_INCOME: "761",
    R.DEPOSIT_CONTROL: "2511",
    R.INTEREST_ON_DEPOSITS_EXPENSE: "6021",
    R.INTEREST_PAYABLE: "2571",
    R.OVERDRAFT_PORTFOLIO: "2023",
    R.WITHHOLDING_TAX_PAYABLE: "343",  # État - impôts retenus à la source (IRC) à reverser
    R.CAPITALISED_INCOME_DEFERRED: "2074",  # intérêts et pénalités capitalisés réservés (cash rule)
}
"""The SFD chart's account for each role; each product maps the roles its rule uses."""

LOAN_CLASSIFIED: Final = (
    ClassifiedAccount(classification=LoanClassification.HEALTHY, term=TermBucket.MEDIUM, role=R.LOAN_PORTFOLIO,
                      account_code="2031"),
    ClassifiedAccount(classification=LoanClassification.HEALTHY, term=TermBucket.LONG, role=R.LOAN_PORTFOLIO,
                      account_code="2041"),
    ClassifiedAccount(classification=LoanClassification.DOUBTFUL, term=TermBucket.SHORT, role=R.LOAN_PORTFOLIO,
                      account_code="292"),
    ClassifiedAccount(classification=LoanClassification.DOUBTFUL, term=TermBucket.MEDIUM, role=R.LOAN_PORTFOLIO,
                      account_code="292"),
    ClassifiedAccount(classification=LoanClassification.WRITTEN_OFF, term=TermBucket.SHORT, role=R.LOAN_PORTFOLIO,
                      account_code="291"),
)
"""Seed 002's "attributs durée": medium- and long-term loans, loans in arrears (292) and
immobilised loans (291) each have their own portfolio account."""


class DemoReferences(msgspec.Struct, frozen=True, kw_only=True):
    """Ids of the reference rows the demo products name."""

    own_funds_id: int
    mobile_money_id: int
    bank_transfer_id: int
    loan_fee_id: int
    loan_penalty_id: int
    withdrawal_fee_id: int
    closure_penalty_id: int


def _mapping(kind: ProductKind, rule: AccountingRule, refs: DemoReferences, *,
             classified: tuple[ClassifiedAccount, ...] = (), charges: Mapping[int, str] | None = None
             ) -> ProductAccounting:
    return ProductAccounting(
        rule=rule, accounts={role: SFD_ACCOUNTS[role] for role in sorted(roles_allowed(kind, rule))},
        payment_type_accounts={refs.mobile_money_id: "1013", refs.bank_transfer_id: "114"},
        charge_accounts=dict(charges or {}), classified_accounts=classified)


def demo_products(refs: DemoReferences) -> list[Settings]:
    """The demo's products; pure, so tests check them without a database."""
    loan_charges = {refs.loan_fee_id: "7022", refs.loan_penalty_id: "7023"}
    penalty = OverduePenalty(charge_id=refs.loan_penalty_id, basis=RateOrFlat.RATE, rate_percent=D(2),
                             base=PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST, grace_periods=1)
    agricultural = LoanProduct(
        identity=ProductIdentity(name="Crédit agricole campagne", short_name="AGRI", code="CR-AGRI",
                                 description="Crédit de campagne agricole : intérêts fixes, différé de 3 mois "
                                             "sur le capital (récolte)", open_date=DEMO_OPEN_DATE),
        currency="XOF", fund_source_id=refs.own_funds_id, in_multiples_of=D(5), instalment_in_multiples_of=D(25),
        principal=AmountRange(minimum=D(100_000), default=D(500_000), maximum=D(2_000_000)),
        repayment_count=CountRange(minimum=6, default=9, maximum=12),
        # Flat rates: the TEG is about 1.6 times the flat rate; 13 % keeps it under the 24 % usury cap.
        interest_rate_percent=AmountRange(minimum=D(10), default=D(12), maximum=D(13)),
        interest_method=InterestMethod.FLAT, amortization_method=AmortizationMethod.EQUAL_INSTALMENTS,
        grace_on_principal_periods=3, days_to_arrears=1, days_to_npa=90, arrears_tolerance_amount=D(500),
        guarantees=Guarantees(mandatory_percent=D(20), own_funds_min_percent=D(10)),
        guarantors=GuarantorRule(required=True, count_min=1, amount_threshold=D(1_000_000)),
        charge_ids=(refs.loan_fee_id,), overdue_penalty=penalty, vat_on_interest_percent=D(0),
        accounting=_mapping(ProductKind.LOAN, AccountingRule.CASH, refs, classified=LOAN_CLASSIFIED,
                            charges=loan_charges),
    )
    salary = LoanProduct(
        identity=ProductIdentity(name="Crédit salaire", short_name="SAL", code="CR-SAL",
                                 description="Prêt aux salariés domiciliés, dégressif, comptabilité d'engagement",
                                 open_date=DEMO_OPEN_DATE),
        currency="XOF", fund_source_id=refs.own_funds_id, in_multiples_of=D(5),
        principal=AmountRange(minimum=D(200_000), default=D(1_000_000), maximum=D(5_000_000)),
        repayment_count=CountRange(minimum=6, default=12, maximum=36),
        interest_rate_percent=AmountRange(minimum=D(12), default=D(15), maximum=D(18)),
        interest_method=InterestMethod.DECLINING_BALANCE, amortization_method=AmortizationMethod.EQUAL_INSTALMENTS,
        interest_calculation_period=InterestCalculationPeriod.DAILY,
        days_to_arrears=1, days_to_npa=90, charge_ids=(refs.loan_fee_id,), overdue_penalty=penalty,
        allow_term_overrides=True,
        accounting=_mapping(ProductKind.LOAN, AccountingRule.ACCRUAL_PERIODIC, refs, classified=LOAN_CLASSIFIED,
                            charges=loan_charges),
    )
    group = LoanProduct(
        identity=ProductIdentity(name="Crédit groupe solidaire", short_name="GRP", code="CR-GRP",
                                 description="Crédit aux groupements de femmes, caution solidaire, "
                                             "remboursement toutes les deux semaines", open_date=DEMO_OPEN_DATE),
        currency="XOF", fund_source_id=refs.own_funds_id, group_lending=GroupLending.JOINT_LIABILITY,
        in_multiples_of=D(5),
        principal=AmountRange(minimum=D(50_000), default=D(150_000), maximum=D(500_000)),
        repayment_count=CountRange(minimum=8, default=12, maximum=24),
        # Flat, every two weeks, with the file fee: 8 % flat is a TEG of about 22 % (usury cap 24 %).
        interest_rate_percent=AmountRange(minimum=D(6), default=D(7), maximum=D(8)),
        repayment_every=2, repayment_frequency_unit=RepaymentFrequencyUnit.WEEKS,
        interest_method=InterestMethod.FLAT, days_to_arrears=1, days_to_npa=90,
        mandatory_savings=MandatorySavings(basis=RateOrFlat.RATE, rate_percent=D(10)),
        social_shares=SocialShares(required=True, rate_percent=D(2)),
        co_signers=GuarantorRule(required=True, count_min=2),
        charge_ids=(refs.loan_fee_id,), overdue_penalty=penalty,
        accounting=_mapping(ProductKind.LOAN, AccountingRule.CASH, refs, classified=LOAN_CLASSIFIED,
                            charges=loan_charges),
    )
    current = DepositProduct(
        identity=ProductIdentity(name="Compte courant membre", short_name="CC", code="DV-CC",
                                 description="Compte à vue : reçoit les décaissements, paie les échéances",
                                 open_date=DEMO_OPEN_DATE),
        currency="XOF", deposit_type=DepositType.CURRENT, minimum_opening_balance=D(5_000),
        overdraft=Overdraft(limit_amount=D(200_000), interest_rate_annual_percent=D(18)),
        withdrawal_fee_charge_ids=(refs.withdrawal_fee_id,), dormancy_days=365,
        accounting=_mapping(ProductKind.DEPOSIT, AccountingRule.CASH, refs, charges={refs.withdrawal_fee_id: "7022"}),
    )
    term_accounts = dict(_mapping(ProductKind.TERM_DEPOSIT, AccountingRule.CASH, refs).accounts)
    term_accounts[R.DEPOSIT_CONTROL] = "252"
    term_accounts[R.INTEREST_ON_DEPOSITS_EXPENSE] = "6022"
    women = Incentive(attribute=ClientAttribute.GENDER, operator=Operator.EQUAL, value="female",
                      kind=IncentiveKind.INCENTIVE, rate_percent=D("0.5"))
    term_deposit = TermDepositProduct(
        identity=ProductIdentity(name="Dépôt à terme 12 mois", short_name="DAT12", code="DAT-12",
                                 description="DAT de 12 mois, taux selon le montant, +0,5 point pour les femmes",
                                 open_date=DEMO_OPEN_DATE),
        currency="XOF", in_multiples_of=D(1_000),
        deposit_amount=AmountRange(minimum=D(100_000), default=D(500_000), maximum=D(50_000_000)),
        lock_in=TermLength(count=3), term_min=TermLength(count=12), term_max=TermLength(count=12),
        premature_closure_penalty=PrematureClosurePenalty(rate_percent=D(1), basis=PenaltyBasis.UNTIL_WITHDRAWAL),
        rate_charts=(RateChart(valid_from=DEMO_OPEN_DATE, name="Grille 2026", slabs=(
            RateSlab(term_from=12, term_to=12, amount_to=D(999_999), rate_percent=D("4.5"),
                     description="12 mois, moins de 1 000 000 : 4,5 %", incentives=(women,)),
            RateSlab(term_from=12, term_to=12, amount_from=D(1_000_000), rate_percent=D("5.5"),
                     description="12 mois, 1 000 000 et plus : 5,5 %", incentives=(women,)),
        )),),
        charge_ids=(refs.closure_penalty_id,),
        accounting=ProductAccounting(
            rule=AccountingRule.CASH, accounts=term_accounts,
            payment_type_accounts={refs.mobile_money_id: "1013", refs.bank_transfer_id: "114"},
            charge_accounts={refs.closure_penalty_id: "7023"}),
    )
    return [agricultural, salary, group, current, term_deposit]


DEPOSIT_CHARGES: Final = (
    ChargeDefinition(name="Frais de retrait", applies_to=ChargeAppliesTo.DEPOSIT, charge_time=ChargeTime.WITHDRAWAL,
                     calculation=ChargeCalculation.FLAT, amount=D(200), currency="XOF", income_gl_account_code="7022"),
    ChargeDefinition(name="Pénalité de rupture anticipée DAT", applies_to=ChargeAppliesTo.DEPOSIT,
                     charge_time=ChargeTime.PREMATURE_CLOSURE, calculation=ChargeCalculation.PERCENT_OF_AMOUNT,
                     amount=D(1), currency="XOF", is_penalty=True, income_gl_account_code="7023"),
)
"""The deposit charges the demo products name, beside the reference data's demo charges."""


async def ensure_demo_references(uow_factory: UnitOfWorkFactory) -> DemoReferences:
    """The reference rows the demo products name: the reference data's defaults and demo rows
    (fund sources, payment types, loan charges), plus two deposit charges; all idempotent."""
    await reference_defaults.seed_reference_defaults(uow_factory, DEMO_ACTOR)
    await reference_defaults.seed_demo_reference(uow_factory, DEMO_ACTOR)
    existing = {stored.item.name for stored in await catalogue.list_all(uow_factory(), lists.CHARGES)}
    for charge in DEPOSIT_CHARGES:
        if charge.name not in existing:
            await catalogue.create(uow_factory(), lists.CHARGES, charge, DEMO_ACTOR)
    ids: dict[str, int] = {}
    async with uow_factory() as uow:
        for table in (FundSourceRow, PaymentTypeRow, ChargeRow):
            ids.update((name, row_id) for name, row_id in (await uow.session.execute(select(table.name, table.id))).all())
    return DemoReferences(
        own_funds_id=ids["Fonds propres"], mobile_money_id=ids["Mobile money"],
        bank_transfer_id=ids["Virement bancaire"], loan_fee_id=ids["Frais de dossier"],
        loan_penalty_id=ids["Pénalité de retard"], withdrawal_fee_id=ids["Frais de retrait"],
        closure_penalty_id=ids["Pénalité de rupture anticipée DAT"])


async def ensure_demo_products(uow_factory: UnitOfWorkFactory, progress: Callable[[str], None]) -> dict[str, int]:
    """Create the demo products that do not exist yet (by kind and name); their ids by name."""
    refs = await ensure_demo_references(uow_factory)
    ids: dict[str, int] = {}
    for settings in demo_products(refs):
        kind = kind_of(settings)
        existing = {r.settings.identity.name: r.product_id for r in await service.list_products(uow_factory(), kind)}
        name = settings.identity.name
        if name in existing:
            ids[name] = existing[name]
            continue
        record = await service.create_product(uow_factory(), settings, DEMO_ACTOR)
        ids[name] = record.product_id
        progress(f"product {name!r} ({kind.value}) created")
    return ids
