"""Portfolio-risk reports read from the loans' arrears as of the last closed business day
(`loan_arrears_state`, kept by the close of business): portfolio at risk by product, office,
loan officer or activity sector; ageing by bucket of the delinquency grid with the provision
each bucket requires; the arrears list and the officers' follow-up list.

PAR N is the outstanding principal of the loans with an instalment more than N days late (the
whole loan counts, not only the late instalment: CGAP's consensus definition, « encours des
crédits dont au moins une échéance est impayée depuis plus de 30 jours » for PAR 30), divided by
the outstanding principal of all the loans counted; PAR 1 counts every loan late at all (one day
or more). So PAR 90 is the loans past the RCSFD's « 0 à 3 mois » bucket: the doubtful portfolio
of the shipped grid. The loans counted are those open at the close of the day the figures are
from: active, or paid off or written off on a later day (a write-off entered the morning after
the close still counts in the evening's PAR, as its balance does in the trial balance as of that
day), so the reports tie to the trial balance as of `as_of` (each office's last close, when
offices close on different days)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any, Final

import msgspec
from sqlalchemy import TextClause, text

from ledger.money import normalize_amount
from products.loans.product import LoanProduct
from servicing.close_of_business.loan_provisioning import required_provisions
from servicing.close_of_business.selection import LOAN_OPEN_ON_DAY
from servicing.loans.schedules import plain
from servicing.staff.scope import OfficeScope, office_subtree_condition
from servicing.unit_of_work import UnitOfWork

PAR_DAYS: Final = (1, 30, 90)
"""PAR 1: late one day or more; PAR 30 and PAR 90: late more than 30 and 90 days."""
_PERCENT: Final = Decimal("0.01")


class RiskGrouping(StrEnum):
    PRODUCT = "product"
    OFFICE = "office"
    OFFICER = "officer"
    SECTOR = "sector"


_GROUP_KEY: Final = {
    RiskGrouping.PRODUCT: ("CAST(l.product_id AS text)", "p.name"),
    RiskGrouping.OFFICE: ("CAST(l.office_id AS text)", "o.name"),
    RiskGrouping.OFFICER: ("coalesce(c.loan_officer, '')", "coalesce(c.loan_officer, 'sans agent')"),
    RiskGrouping.SECTOR: ("coalesce(l.details ->> 'activity_sector_id', '')", "coalesce(a.name, 'non renseigné')"),
}

CLOSED_THROUGH: Final = """
SELECT o.id AS office_id,
       coalesce((SELECT max(r.business_date) FROM business_day_step r
                  WHERE r.office_id = o.id AND r.step = 'loan_arrears'),
                (SELECT max(so.business_date) FROM loan lo JOIN loan_arrears_state so ON so.loan_id = lo.id
                  WHERE lo.office_id = o.id)) AS closed_through
  FROM office o OFFSET 0
"""
"""Each office's last close, as the loans' states have it: the last day the run recorded the
`loan_arrears` step for the office (`business_day_step`, written as soon as the step has
finished, so also on a day whose later steps have not run yet: the states are then of that day),
read by primary key instead of from every loan's state. An office the run never recorded (its
loans aged by the step alone, as tests and a restatement do) falls back to the latest state of
its loans (PostgreSQL's coalesce evaluates that scan only for such an office). ``OFFSET 0``
keeps it a subquery of one row per office, computed once and joined by office: pulled up into
the report's query, the planner multiplied the loans' states by the offices."""

_SECTOR_JOIN: Final = """
  LEFT JOIN activity_sector a ON a.id = CAST(nullif(l.details ->> 'activity_sector_id', '') AS integer)"""
"""Only the sector grouping reads the loan's details: the other reports read the loan's keys
alone, from the `loan_report` index (revision 0045) rather than from the wide loan rows."""


def _from(*, sector: bool = False) -> str:
    """The loans a report counts, each with its state as of its office's last close (`s`), its
    loan (`l`), product (`p`), office (`o`) and client (`c`); ``sector``: and its activity sector
    (`a`). Ends with the WHERE clause of the filters (`_params`), so a report appends ``AND ...``."""
    return f"""
  FROM loan_arrears_state s
  JOIN loan l ON l.id = s.loan_id
  JOIN ({CLOSED_THROUGH}) od ON od.office_id = l.office_id
   AND (l.status = 'active' OR ({LOAN_OPEN_ON_DAY.replace(":day", "s.business_date")}
                                AND s.business_date = od.closed_through))
  JOIN product p ON p.id = l.product_id
  JOIN office o ON o.id = l.office_id
  LEFT JOIN client c ON c.id = l.client_id{_SECTOR_JOIN if sector else ""}
 WHERE (CAST(:offices AS int[]) IS NULL OR l.office_id = ANY(:offices))
   AND {office_subtree_condition("l.office_id")}
   AND (CAST(:product AS int) IS NULL OR l.product_id = CAST(:product AS int))
"""


_FROM: Final = _from()


class RiskFilter(msgspec.Struct, frozen=True, kw_only=True):
    """What a report is narrowed to, within the user's scope: an office (and its branches), a
    loan product. None: not narrowed."""

    office_id: int | None = None
    product_id: int | None = None


def _params(scope: OfficeScope, narrowed: RiskFilter | None) -> dict[str, Any]:
    narrowed = narrowed or RiskFilter()
    return {"offices": _offices(scope), "office": narrowed.office_id, "product": narrowed.product_id}


class ParRow(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    label: str
    currency: str
    loans: int
    outstanding_principal: Decimal
    par_1: Decimal
    par_30: Decimal
    par_90: Decimal
    par_1_percent: Decimal
    par_30_percent: Decimal
    par_90_percent: Decimal
    loans_at_risk_30: int


class RiskReport(msgspec.Struct, frozen=True, kw_only=True):
    as_of: date | None
    """The last closed business day the figures are from (None before the first close)."""
    rows: tuple[ParRow, ...]
    totals: tuple[ParRow, ...] = ()
    """The whole report per currency (group "total", label "Total"): the institution's (or the
    office's) PAR, its ratios from the summed amounts."""


class AgeingRow(msgspec.Struct, frozen=True, kw_only=True):
    bucket: str
    days_overdue_from: int | None
    """The bucket's lower bound on the delinquency grid, in days overdue (« 31 à 90 jours »: 31),
    as the grid reads, whatever loans it holds today. None: loans graded outside every bucket of
    the grid ("hors grille")."""
    days_overdue_to: int | None
    """The bucket's upper bound on the grid (inclusive); None: the grid's open-ended last bucket
    (or outside the grid). A label found on both the loans' and the rescheduled loans' grids with
    other bounds reads the span of both."""
    classification: str
    provision_rate_percent: Decimal
    currency: str
    loans: int
    outstanding_principal: Decimal
    overdue_principal: Decimal
    provision_required: Decimal
    """The provision the close of business requires for these loans, loan by loan
    (`loan_provisioning.required_provisions`: outstanding principal, plus the interest receivable
    where the product provisions it, less the guarantee deposits held, x the bucket's rate, rounded
    the product's way), summed: the provisioning report's required for the bucket, and so what
    the provisions accounts hold after a close."""
    observed_days_overdue_min: int
    """The youngest arrears among the bucket's loans, in days (what the loans show, not a bound of
    the grid)."""
    observed_days_overdue_max: int
    """The oldest arrears among the bucket's loans, in days (not a bound of the grid)."""


class ArrearsRow(msgspec.Struct, frozen=True, kw_only=True):
    loan_id: int
    client_id: int
    client_name: str
    office_id: int
    loan_officer: str | None
    currency: str
    days_overdue: int
    overdue_amount: Decimal
    overdue_principal: Decimal
    outstanding_principal: Decimal
    status: str
    bucket: str | None
    business_date: date


def _offices(scope: OfficeScope) -> list[int] | None:
    return None if scope.whole_institution else sorted(scope.office_ids)


def _ratio(part: Decimal, whole: Decimal) -> Decimal:
    return (part * 100 / whole).quantize(_PERCENT, ROUND_HALF_EVEN) if whole else Decimal(0)


_AS_OF: Final = text(f"SELECT max(od.closed_through) FROM ({CLOSED_THROUGH}) od")
"""The institution's last close: the latest of its offices' (`CLOSED_THROUGH`)."""


async def _as_of(uow: UnitOfWork) -> date | None:
    found: date | None = await uow.session.scalar(_AS_OF)
    return found


async def portfolio_at_risk(uow: UnitOfWork, grouping: RiskGrouping, scope: OfficeScope,
                            narrowed: RiskFilter | None = None) -> RiskReport:
    key, label = _GROUP_KEY[grouping]
    async with uow:
        rows = (await uow.session.execute(text(f"""
            SELECT {key} AS grp, min({label}) AS label, l.currency, count(*) AS loans,
                   sum(s.outstanding_principal) AS outstanding,
                   coalesce(sum(s.outstanding_principal) FILTER (WHERE s.days_overdue >= 1), 0) AS par_1,
                   coalesce(sum(s.outstanding_principal) FILTER (WHERE s.days_overdue > 30), 0) AS par_30,
                   coalesce(sum(s.outstanding_principal) FILTER (WHERE s.days_overdue > 90), 0) AS par_90,
                   count(*) FILTER (WHERE s.days_overdue > 30) AS at_risk_30
            {_from(sector=grouping is RiskGrouping.SECTOR)}
             GROUP BY grp, l.currency ORDER BY label, l.currency"""), _params(scope, narrowed))).all()
        as_of = await _as_of(uow)
    report = tuple(_par_row(r) for r in rows)
    return RiskReport(as_of=as_of, rows=report, totals=_par_totals(report))


def currency_totals(rows: Sequence[Any], amounts: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per currency (in order), the loans and the sum of each of ``amounts`` over ``rows``: a
    report's total line."""
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        sums = totals.setdefault(row.currency, {"loans": 0, **{name: Decimal(0) for name in amounts}})
        sums["loans"] += row.loans
        for name in amounts:
            sums[name] += getattr(row, name)
    return dict(sorted(totals.items()))


def _par_totals(rows: tuple[ParRow, ...]) -> tuple[ParRow, ...]:
    return tuple(ParRow(
        group="total", label="Total", currency=currency, loans=t["loans"], outstanding_principal=t["outstanding_principal"],
        par_1=t["par_1"], par_30=t["par_30"], par_90=t["par_90"],
        par_1_percent=_ratio(t["par_1"], t["outstanding_principal"]),
        par_30_percent=_ratio(t["par_30"], t["outstanding_principal"]),
        par_90_percent=_ratio(t["par_90"], t["outstanding_principal"]), loans_at_risk_30=int(t["loans_at_risk_30"]))
        for currency, t in currency_totals(rows, ("outstanding_principal", "par_1", "par_30", "par_90",
                                                  "loans_at_risk_30")).items())


def _par_row(r: Any) -> ParRow:
    currency = r.currency.strip()
    return ParRow(
        group=r.grp, label=r.label, currency=currency, loans=r.loans,
        outstanding_principal=normalize_amount(r.outstanding, currency), par_1=normalize_amount(r.par_1, currency),
        par_30=normalize_amount(r.par_30, currency), par_90=normalize_amount(r.par_90, currency),
        par_1_percent=_ratio(r.par_1, r.outstanding), par_30_percent=_ratio(r.par_30, r.outstanding),
        par_90_percent=_ratio(r.par_90, r.outstanding), loans_at_risk_30=r.at_risk_30)


_AGEING: Final = f"""
WITH graded AS (
    SELECT coalesce(s.bucket_label, 'hors grille') AS bucket, s.bucket_label, s.days_overdue, s.classification,
           s.provision_rate_percent AS rate, l.currency, l.rescheduled_on IS NOT NULL AS rescheduled,
           s.outstanding_principal, s.overdue_principal
    {_FROM}
), cells AS (
    SELECT bucket, bucket_label, days_overdue, rate, currency, rescheduled, min(classification) AS classification,
           count(*) AS loans, sum(outstanding_principal) AS outstanding, sum(overdue_principal) AS overdue
      FROM graded GROUP BY bucket, bucket_label, days_overdue, rate, currency, rescheduled
)
SELECT c.bucket, min(g.days_overdue_min) AS grid_from,
       CASE WHEN bool_or(g.days_overdue_min IS NOT NULL AND g.days_overdue_max IS NULL) THEN NULL
            ELSE max(g.days_overdue_max) END AS grid_to,
       min(c.days_overdue) AS observed_min, max(c.days_overdue) AS observed_max,
       min(c.classification) AS classification, c.rate, c.currency, CAST(sum(c.loans) AS bigint) AS loans,
       sum(c.outstanding) AS outstanding, sum(c.overdue) AS overdue
  FROM cells c
  LEFT JOIN LATERAL (
       SELECT d.days_overdue_min, d.days_overdue_max FROM delinquency_bucket d
        WHERE d.label = c.bucket_label AND d.bucket_kind IN ('loan', 'rescheduled_loan')
          AND c.days_overdue >= d.days_overdue_min
          AND (d.days_overdue_max IS NULL OR c.days_overdue <= d.days_overdue_max)
        ORDER BY d.bucket_kind = CASE WHEN c.rescheduled THEN 'rescheduled_loan' ELSE 'loan' END DESC,
                 d.retired_at IS NULL DESC, d.id DESC
        LIMIT 1) g ON true
 GROUP BY c.bucket, c.rate, c.currency
 ORDER BY coalesce(min(g.days_overdue_min), min(c.days_overdue)), min(c.days_overdue), c.currency, c.rate
"""
"""Loans per bucket they were graded in, with the bucket's bounds on the grid. The state keeps the
bucket's label, not the grid row: the row is the one of that label whose bounds hold the loan's
days overdue, on the grid the loan is graded on (the rescheduled loans' for a rescheduled loan,
falling back to the loans', as the ageing does), the grid in force first, then the latest retired.
Looked up once per distinct (label, days overdue, grid), not per loan."""


_PROVISIONED: Final = f"""
SELECT l.id, l.product_id, l.product_version, l.currency, s.outstanding_principal, s.provision_rate_percent,
       coalesce(s.bucket_label, 'hors grille') AS bucket
{_FROM}
   AND s.provision_rate_percent > 0
"""
"""The loans whose bucket requires a provision (a zero rate requires nothing)."""


async def ageing(uow: UnitOfWork, scope: OfficeScope,
                 narrowed: RiskFilter | None = None) -> tuple[date | None, list[AgeingRow]]:
    """Loans per bucket they were graded in, with the provision the close requires for them.

    The provision is computed loan by loan with the close's own rule, not as the bucket's
    outstanding x its rate: rounding per loan, guarantee deposits and provisioned interest make
    the two differ, and the auditor ties this column to the provisioning report and the
    provisions accounts."""
    params = _params(scope, narrowed)
    products: dict[tuple[int, int], LoanProduct] = {}
    async with uow:
        rows = (await uow.session.execute(text(_AGEING), params)).all()
        provisioned = (await uow.session.execute(text(_PROVISIONED), params)).all()
        required = await required_provisions(uow, provisioned, products, {})
        as_of = await _as_of(uow)
    need: dict[tuple[str, Decimal, str], Decimal] = {}
    for loan in provisioned:
        key = (loan.bucket, loan.provision_rate_percent, loan.currency)
        need[key] = need.get(key, Decimal(0)) + required.get(loan.id, Decimal(0))
    result = []
    for r in rows:
        currency = r.currency.strip()
        result.append(AgeingRow(
            bucket=r.bucket, days_overdue_from=r.grid_from, days_overdue_to=r.grid_to,
            classification=r.classification, provision_rate_percent=plain(r.rate), currency=currency, loans=r.loans,
            outstanding_principal=normalize_amount(r.outstanding, currency),
            overdue_principal=normalize_amount(r.overdue, currency),
            provision_required=normalize_amount(need.get((r.bucket, r.rate, r.currency), Decimal(0)), currency),
            observed_days_overdue_min=r.observed_min, observed_days_overdue_max=r.observed_max))
    return as_of, result


def ageing_totals(rows: list[AgeingRow]) -> list[AgeingRow]:
    """The ageing per currency over every bucket (bucket "Total"): the grid's bounds of the
    buckets it covers, and the youngest and oldest arrears of all its loans."""

    def total(currency: str, t: dict[str, Any]) -> AgeingRow:
        own = [r for r in rows if r.currency == currency]
        froms = [r.days_overdue_from for r in own if r.days_overdue_from is not None]
        tos = [r.days_overdue_to for r in own if r.days_overdue_from is not None]
        return AgeingRow(
            bucket="Total", days_overdue_from=min(froms, default=None),
            days_overdue_to=None if not tos or None in tos else max(bound for bound in tos if bound is not None),
            classification="", provision_rate_percent=Decimal(0), currency=currency, loans=t["loans"],
            outstanding_principal=t["outstanding_principal"], overdue_principal=t["overdue_principal"],
            provision_required=t["provision_required"],
            observed_days_overdue_min=min(r.observed_days_overdue_min for r in own),
            observed_days_overdue_max=max(r.observed_days_overdue_max for r in own))

    return [total(currency, t) for currency, t in currency_totals(
        rows, ("outstanding_principal", "overdue_principal", "provision_required")).items()]


def _arrears_sql(condition: str) -> TextClause:
    """The loans of the arrears list that meet ``condition`` (SQL over the state ``s`` and loan
    ``l``), of the officer ``:officer`` when bound, the longest overdue first, at most ``:limit``."""
    return text(f"""
            SELECT s.*, l.client_id, coalesce(c.display_name, '') AS client_name, l.office_id, c.loan_officer,
                   l.currency
            {_FROM}
               AND {condition} AND (CAST(:officer AS text) IS NULL OR c.loan_officer = :officer)
             ORDER BY s.days_overdue DESC, s.loan_id LIMIT :limit""")


_ARREARS: Final = _arrears_sql("s.days_overdue >= :min_days")

_FOLLOW_UP_THRESHOLDS: Final = text("""
SELECT v.product_id, v.version, CAST(v.settings ->> 'follow_up_days_overdue' AS integer) AS days
  FROM product_version v JOIN product p ON p.id = v.product_id
 WHERE p.kind = 'loan' AND v.settings ->> 'follow_up_days_overdue' IS NOT NULL
""")
"""The loan product versions with a follow-up threshold of their own (a handful of rows)."""

_FOLLOW_UPS: Final = _arrears_sql("""s.days_overdue >= :floor
               AND s.days_overdue >= coalesce(
                   (SELECT t.days FROM unnest(CAST(:products AS int[]), CAST(:versions AS int[]),
                                              CAST(:thresholds AS int[])) AS t (product_id, version, days)
                     WHERE t.product_id = l.product_id AND t.version = l.product_version),
                   CAST(:institution_days AS int))""")
"""Overdue at least the threshold of the loan's product version, else the institution's; the
lowest threshold of all (``:floor``) first, so only the loans that late are looked at (the
index on the days overdue)."""


async def arrears_list(uow: UnitOfWork, scope: OfficeScope, *, min_days: int = 1,
                       officer: str | None = None, limit: int = 1000,
                       narrowed: RiskFilter | None = None) -> list[ArrearsRow]:
    """Loans at least `min_days` late, the longest overdue first."""
    async with uow:
        rows = (await uow.session.execute(_ARREARS, {
            **_params(scope, narrowed), "min_days": min_days, "officer": officer, "limit": limit})).all()
    return [_arrears_row(r, r.currency.strip()) for r in rows]


async def follow_up_list(uow: UnitOfWork, scope: OfficeScope, *, institution_days: int | None,
                         officer: str | None = None, limit: int = 1000,
                         narrowed: RiskFilter | None = None) -> list[ArrearsRow]:
    """The loan officers' follow-up list: the loans overdue at least their product's follow-up
    threshold (`LoanProduct.follow_up_days_overdue`), or ``institution_days`` for the products
    that set none (None: those products' loans are not followed up), as the close of business
    assigns the `loan.follow_up` tasks. The `limit` longest overdue, listed per officer (no
    officer first), the longest overdue first within each."""
    async with uow:
        own = (await uow.session.execute(_FOLLOW_UP_THRESHOLDS)).all()
        thresholds = [r.days for r in own] + ([institution_days] if institution_days is not None else [])
        if not thresholds:
            return []
        rows = (await uow.session.execute(_FOLLOW_UPS, {
            **_params(scope, narrowed), "floor": min(thresholds), "products": [r.product_id for r in own],
            "versions": [r.version for r in own], "thresholds": [r.days for r in own],
            "institution_days": institution_days, "officer": officer, "limit": limit})).all()
    found = [_arrears_row(r, r.currency.strip()) for r in rows]
    return sorted(found, key=lambda row: (row.loan_officer or "", -row.days_overdue, row.loan_id))


def _arrears_row(r: Any, currency: str) -> ArrearsRow:
    return ArrearsRow(loan_id=r.loan_id, client_id=r.client_id, client_name=r.client_name, office_id=r.office_id,
                      loan_officer=r.loan_officer, currency=currency, days_overdue=r.days_overdue,
                      overdue_amount=normalize_amount(r.overdue_amount, currency),
                      overdue_principal=normalize_amount(r.overdue_principal, currency),
                      outstanding_principal=normalize_amount(r.outstanding_principal, currency), status=r.status,
                      bucket=r.bucket_label, business_date=r.business_date)
