"""Sensible reference data for a new UEMOA institution, and the demo's credit policy.

Everything here goes through the same services as the API (so through the same checks) and
is idempotent: a row whose name or code already exists, a grid already set, is left alone,
so running `grandlivre demo` twice writes nothing the second time.

Regulatory figures come from /work/shared/reference/uemoa-sfd.md; each row cites its source
in its `source` field. Figures that file marks "not confirmed" (TAF rates of Senegal, Côte
d'Ivoire and the other countries, the grid for rescheduled loans) are not shipped as facts.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Final

from products.loans.terms import HolidayRule
from products.reference.model import (
    ActivitySectorDefinition,
    BucketKind,
    ChargeAppliesTo,
    ChargeCalculation,
    ChargeDefinition,
    ChargeTime,
    CreditParameters,
    CurrencySetting,
    Decision,
    DecisionReasonDefinition,
    DelinquencyBucket,
    FrequencyUnit,
    FundSourceDefinition,
    FundSourceType,
    InstitutionType,
    LoanState,
    PaymentKind,
    PaymentTypeDefinition,
    TaxedOperation,
    TaxKind,
    TaxRateDefinition,
    UsuryCapDefinition,
)
from servicing.reference import buckets, catalogue, credit_parameters, currencies, lists
from servicing.unit_of_work import UnitOfWorkFactory

DEFAULT_CURRENCIES: Final = ("XOF", "XAF", "EUR", "USD")

DEFAULT_PAYMENT_TYPES: Final = (
    PaymentTypeDefinition(name="Espèces", kind=PaymentKind.CASH, is_cash=True, position=1),
    PaymentTypeDefinition(name="Chèque", kind=PaymentKind.CHEQUE, is_cash=False, position=2),
    PaymentTypeDefinition(name="Virement bancaire", kind=PaymentKind.BANK_TRANSFER, is_cash=False, position=3),
    PaymentTypeDefinition(name="Mobile money", kind=PaymentKind.MOBILE_MONEY, is_cash=False, position=4),
    PaymentTypeDefinition(name="Virement interne", kind=PaymentKind.INTERNAL_TRANSFER, is_cash=False, position=5),
)

_RCSFD: Final = ("RCSFD (référentiel comptable des SFD de l'UMOA), version allégée, compte 299 p. 65 et compte 29 "
                 "p. 64, as transcribed in /work/shared/reference/uemoa-sfd.md §2; months converted to days "
                 "(3, 6, 12, 24 months = 90, 180, 365, 730 days) by Grand Livre, not by the regulation")
BCEAO_GRID: Final = (
    DelinquencyBucket(label="0 à 3 mois (provision facultative)", days_overdue_min=0, days_overdue_max=90,
                      loan_state=LoanState.HEALTHY, provision_rate_percent=Decimal(0), source=_RCSFD),
    DelinquencyBucket(label="Plus de 3 à 6 mois (2991)", days_overdue_min=91, days_overdue_max=180,
                      loan_state=LoanState.DOUBTFUL, provision_rate_percent=Decimal(40), source=_RCSFD),
    DelinquencyBucket(label="Plus de 6 à 12 mois (2992)", days_overdue_min=181, days_overdue_max=365,
                      loan_state=LoanState.DOUBTFUL, provision_rate_percent=Decimal(80), source=_RCSFD),
    DelinquencyBucket(label="Plus de 12 à 24 mois (2993)", days_overdue_min=366, days_overdue_max=730,
                      loan_state=LoanState.DOUBTFUL, provision_rate_percent=Decimal(100), source=_RCSFD),
    DelinquencyBucket(label="Plus de 24 mois (irrécouvrable, passage en perte)", days_overdue_min=731,
                      days_overdue_max=None, loan_state=LoanState.DOUBTFUL, provision_rate_percent=Decimal(100),
                      source=_RCSFD),
)
"""The RCSFD provisioning grid. It covers every member credit, overdrafts (2023) included; for
rescheduled loans the reference marks the rules "not confirmed", so no grid is seeded."""
BCEAO_GRID_KINDS: Final = (BucketKind.LOAN, BucketKind.OVERDRAFT)

_MALI_TAF: Final = ("Mali, Code général des impôts amended 2015: TAF 17 % (15 % for export financing), 15 % "
                    "before; https://www.pouvoirsafrique.com/2015/04/03/mali-retouches-du-code-general-des-impots/ "
                    "(uemoa-sfd.md §4). Exact effective date not confirmed: 1 January 2015 assumed.")
DEFAULT_TAX_RATES: Final = (
    TaxRateDefinition(code="ML-TAF-2015", name="TAF Mali", tax_kind=TaxKind.TAF, country="ML",
                      operation_kind=TaxedOperation.ALL_FINANCIAL_SERVICES, rate_percent=Decimal(17),
                      valid_from=date(2015, 1, 1), source=_MALI_TAF),
    TaxRateDefinition(code="ML-TAF-EXPORT-2015", name="TAF Mali, financement des exportations", tax_kind=TaxKind.TAF,
                      country="ML", operation_kind=TaxedOperation.EXPORT_FINANCING, rate_percent=Decimal(15),
                      valid_from=date(2015, 1, 1), source=_MALI_TAF),
)
"""Only Mali's TAF is documented; other UEMOA countries' rates are "not confirmed" (§4, item 7)."""

_USURY_2013: Final = "Décision n° CM/UMOA/011/06/2013 du 28 juin 2013 (taux de l'usure)"
_USURY_2013_SOURCE: Final = ("https://www.eversheds-sutherland.com/global/en/what/articles/index.page?ArticleID=en/"
                             "Africa_group/Mali-UEMOA-Usury-Act; https://lanouvelletribune.info/2013/11/"
                             "uemoa-nouvelle-disposition-liee-au-credit-bancaire/ (uemoa-sfd.md §3)")
_USURY_2025: Final = "Décision n° 19 du 29/12/2025 du Conseil des Ministres de l'UMOA fixant le taux de l'usure"
_USURY_2025_SOURCE: Final = ("https://www.bceao.int/sites/default/files/2026-01/Decision-No19-du-29-12-2025_CMUMOA_"
                             "fixant_le_taux_de_l-usure.pdf (text not verified); press: https://burkina24.com/2025/12/"
                             "30/uemoa-le-conseil-des-ministres-adopte-des-reformes-cles-pour-la-stabilite-economique/ "
                             "(uemoa-sfd.md §3). Effective date under review: 1 January 2026 assumed.")
DEFAULT_USURY_CAPS: Final = (
    UsuryCapDefinition(institution_type=InstitutionType.BANK, rate_annual_percent=Decimal(15),
                       valid_from=date(2014, 1, 1), valid_to=date(2025, 12, 31), legal_reference=_USURY_2013,
                       source=_USURY_2013_SOURCE),
    UsuryCapDefinition(institution_type=InstitutionType.BANK, rate_annual_percent=Decimal(14),
                       valid_from=date(2026, 1, 1), legal_reference=_USURY_2025, source=_USURY_2025_SOURCE),
    UsuryCapDefinition(institution_type=InstitutionType.MICROFINANCE, rate_annual_percent=Decimal(24),
                       valid_from=date(2014, 1, 1), legal_reference=f"{_USURY_2013}; maintenu par la {_USURY_2025}",
                       source=f"{_USURY_2013_SOURCE}; {_USURY_2025_SOURCE}"),
    UsuryCapDefinition(institution_type=InstitutionType.CREDIT_INSTITUTION, rate_annual_percent=Decimal(24),
                       valid_from=date(2026, 1, 1), legal_reference=_USURY_2025, source=_USURY_2025_SOURCE),
)

DEFAULT_DECISION_REASONS: Final = (
    DecisionReasonDefinition(label="Capacité de remboursement suffisante", decision=Decision.APPROVE),
    DecisionReasonDefinition(label="Garanties suffisantes", decision=Decision.APPROVE),
    DecisionReasonDefinition(label="Capacité de remboursement insuffisante", decision=Decision.REJECT),
    DecisionReasonDefinition(label="Garanties insuffisantes", decision=Decision.REJECT),
    DecisionReasonDefinition(label="Retards sur crédits antérieurs", decision=Decision.REJECT),
    DecisionReasonDefinition(label="Dossier incomplet", decision=Decision.DEFER),
)

DEFAULT_ACTIVITY_SECTORS: Final = (
    ActivitySectorDefinition(code="AGRI", name="Agriculture, élevage et pêche"),
    ActivitySectorDefinition(code="COMM", name="Commerce"),
    ActivitySectorDefinition(code="ARTI", name="Artisanat et transformation"),
    ActivitySectorDefinition(code="SERV", name="Services"),
    ActivitySectorDefinition(code="TRANS", name="Transport"),
    ActivitySectorDefinition(code="HABI", name="Habitat et équipement"),
    ActivitySectorDefinition(code="CONSO", name="Consommation et besoins sociaux"),
)

DEMO_CREDIT_PARAMETERS: Final = CreditParameters(
    institution_type=InstitutionType.MICROFINANCE, country="SN", loans_per_client_max=1,
    loans_per_group_member_max=1, loans_per_guarantor_max=2, due_date_on_holiday=HolidayRule.NEXT_WORKING_DAY,
    interest_rate_editable=False, follow_up_sheet_printed=True, contract_number_required=True,
    grace_period_amounts_added=False, contract_printed_at_disbursement=True, debt_acknowledgement_printed=True,
    monthly_rate_shown=True, commission_before_disbursement=True, partial_disbursement_allowed=False,
    schedule_totals_shown=True, repayment_availability_required=True, days_late_tolerated=3,
    recovery_entries_on_repayment=True, guarantee_deposit_reduced_on_repayment=False,
    interest_charged_on_early_repayment=False, credit_jobs_enabled=True, doubtful_loan_arrears_editable=False,
    healthy_loan_rescheduling_allowed=False, rescheduling_term_editable=True,
    unpaid_instalment_rescheduling_allowed=False, downgrade_jobs_enabled=True, valid_from=date(2026, 1, 1),
    comment="Politique de crédit de la démonstration (SFD au Sénégal)")
"""A demo institution's policy, not a regulatory default: seed 002 lists the switches, not values."""


async def seed_reference_defaults(uow_factory: UnitOfWorkFactory, actor: str) -> int:
    """Create the default reference rows that are missing; returns how many were created."""
    created = 0
    configured = {info.code for info in await currencies.list_currencies(uow_factory())}
    for code in DEFAULT_CURRENCIES:
        if code not in configured:
            await currencies.configure_currency(uow_factory(), CurrencySetting(code=code), actor)
            created += 1
    created += await _missing(uow_factory, lists.PAYMENT_TYPES, DEFAULT_PAYMENT_TYPES, "name", actor)
    created += await _missing(uow_factory, lists.TAX_RATES, DEFAULT_TAX_RATES, "code", actor)
    created += await _missing(uow_factory, lists.DECISION_REASONS, DEFAULT_DECISION_REASONS, "label", actor)
    created += await _missing(uow_factory, lists.ACTIVITY_SECTORS, DEFAULT_ACTIVITY_SECTORS, "code", actor)
    caps = await catalogue.list_all(uow_factory(), lists.USURY_CAPS)
    seen_caps = {(stored.item.institution_type, stored.item.valid_from) for stored in caps}
    for cap in DEFAULT_USURY_CAPS:
        if (cap.institution_type, cap.valid_from) not in seen_caps:
            await catalogue.create(uow_factory(), lists.USURY_CAPS, cap, actor)
            created += 1
    kinds_set = {stored.kind for stored in await buckets.list_buckets(uow_factory())}
    for kind in BCEAO_GRID_KINDS:
        if kind not in kinds_set:
            created += len(await buckets.replace_grid(uow_factory(), kind, BCEAO_GRID, actor))
    return created


DEMO_FUND_SOURCES: Final = (
    FundSourceDefinition(name="Fonds propres", source_type=FundSourceType.OWN_FUNDS, gl_account_code="114"),
    FundSourceDefinition(name="Ligne de crédit du bailleur", source_type=FundSourceType.DONOR,
                         gl_account_code="114", contact_name="Chargé de programme",
                         description="Tirages comptabilisés au 162; les fonds sont logés au 114"),
)
DEMO_CHARGES: Final = (
    ChargeDefinition(name="Frais de dossier", applies_to=ChargeAppliesTo.LOAN, charge_time=ChargeTime.DISBURSEMENT,
                     calculation=ChargeCalculation.PERCENT_OF_AMOUNT, amount=Decimal(1), currency="XOF",
                     amount_min=Decimal(2_000), amount_max=Decimal(50_000), income_gl_account_code="7022"),
    ChargeDefinition(name="Pénalité de retard", applies_to=ChargeAppliesTo.LOAN,
                     charge_time=ChargeTime.OVERDUE_INSTALMENT, calculation=ChargeCalculation.PERCENT_OF_OVERDUE_AMOUNT,
                     amount=Decimal(2), currency="XOF", is_penalty=True, frequency_every=1,
                     frequency_unit=FrequencyUnit.MONTHS, grace_days=3, income_gl_account_code="7023"),
    ChargeDefinition(name="Frais de tenue de compte", applies_to=ChargeAppliesTo.DEPOSIT,
                     charge_time=ChargeTime.MONTHLY, calculation=ChargeCalculation.FLAT, amount=Decimal(500),
                     currency="XOF", due_day=28, income_gl_account_code="7022"),
)
"""Demo fund sources and charges on the shipped SFD chart (sfd-uemoa): 114 bank, 7022 fees, 7023 penalties."""


async def seed_demo_reference(uow_factory: UnitOfWorkFactory, actor: str) -> int:
    """The demo institution's credit policy, fund sources and charges (needs the SFD chart loaded)."""
    created = 0
    if not await credit_parameters.versions(uow_factory(), limit=1):
        await credit_parameters.set_parameters(uow_factory(), DEMO_CREDIT_PARAMETERS, actor)
        created += 1
    created += await _missing(uow_factory, lists.FUND_SOURCES, DEMO_FUND_SOURCES, "name", actor)
    created += await _missing(uow_factory, lists.CHARGES, DEMO_CHARGES, "name", actor)
    return created


async def _missing(uow_factory: UnitOfWorkFactory, spec: catalogue.Catalogue[Any], items: tuple[Any, ...],
                   key: str, actor: str) -> int:
    existing = {getattr(stored.item, key) for stored in await catalogue.list_all(uow_factory(), spec)}
    missing = [item for item in items if getattr(item, key) not in existing]
    for item in missing:
        await catalogue.create(uow_factory(), spec, item, actor)
    return len(missing)
