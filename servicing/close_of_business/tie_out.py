"""The auditor's tie-out of the portfolio reports with the trial balance, as of the last closed
business day, for the whole institution and per currency:

* PAR outstanding = the ageing buckets' outstanding = the balances of the accounts the loan
  products map for the portfolio (every class and term) in the trial balance as of that day;
* provision required by the ageing = required by the provisioning report = booked for the loans
  = the credit balances of the accounts the loan products map for provisions, as of that day.

The figures come from the reports themselves (`risk_reports`, `provisioning_report`) and from the
trial balance (`servicing.reports.service.trial_balance`), so a difference here is one the
institution's own reports would show to its auditor. `grandlivre demo` prints it; the per-loan
and per-account checks behind it are `grandlivre verify`'s loan checks."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec
from sqlalchemy import text

from servicing.close_of_business.provisioning_report import provisioning_report
from servicing.close_of_business.risk_reports import RiskGrouping, ageing, portfolio_at_risk
from servicing.loans.product_charges import INSTITUTION
from servicing.loans.schedules import plain
from servicing.reports.service import ReportScope, office_by_code, trial_balance
from servicing.unit_of_work import UnitOfWorkFactory

_MAPPED = text("""
SELECT DISTINCT m.role, a.code FROM product_version_account m
  JOIN product p ON p.id = m.product_id AND p.kind = 'loan'
  JOIN gl_account a ON a.id = m.gl_account_id
 WHERE m.role IN ('loan_portfolio', 'provisions')
""")


class TieOut(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    loans: int
    par_outstanding: Decimal
    par_1: Decimal
    par_30: Decimal
    par_90: Decimal
    ageing_outstanding: Decimal
    portfolio_accounts: dict[str, Decimal]
    """Debit balance of each portfolio account in the trial balance as of the day."""
    ageing_provision_required: Decimal
    provision_required: Decimal
    provision_booked: Decimal
    provisions_accounts: dict[str, Decimal]
    """Credit balance of each provisions account in the trial balance as of the day."""

    @property
    def portfolio_gl(self) -> Decimal:
        return sum(self.portfolio_accounts.values(), Decimal(0))

    @property
    def provisions_gl(self) -> Decimal:
        return sum(self.provisions_accounts.values(), Decimal(0))

    @property
    def ties(self) -> bool:
        return (self.par_outstanding == self.ageing_outstanding == self.portfolio_gl
                and self.ageing_provision_required == self.provision_required == self.provision_booked
                == self.provisions_gl)


class PortfolioTieOut(msgspec.Struct, frozen=True, kw_only=True):
    as_of: date | None
    currencies: tuple[TieOut, ...]

    @property
    def ties(self) -> bool:
        return all(c.ties for c in self.currencies)


async def portfolio_tie_out(uow_factory: UnitOfWorkFactory) -> PortfolioTieOut:
    par = await portfolio_at_risk(uow_factory(), RiskGrouping.PRODUCT, INSTITUTION)
    if par.as_of is None:
        return PortfolioTieOut(as_of=None, currencies=())
    _as_of, buckets = await ageing(uow_factory(), INSTITUTION)
    provisions = await provisioning_report(uow_factory(), INSTITUTION)
    async with uow_factory() as uow:
        mapped = (await uow.session.execute(_MAPPED)).all()
    roles = {r.code: r.role for r in mapped}
    head_office = await office_by_code(uow_factory, None)
    balances = await trial_balance(uow_factory(), ReportScope(office_id=head_office, date_to=par.as_of))
    currencies = sorted({r.currency for r in par.rows} | {b.currency for b in buckets})
    out = []
    for currency in currencies:
        rows = [r for r in par.rows if r.currency == currency]
        tb = [r for r in balances.report.rows if not r.is_header and r.currency == currency and r.account_code in roles]
        out.append(TieOut(
            currency=currency, loans=sum(r.loans for r in rows),
            par_outstanding=sum((r.outstanding_principal for r in rows), Decimal(0)),
            par_1=sum((r.par_1 for r in rows), Decimal(0)), par_30=sum((r.par_30 for r in rows), Decimal(0)),
            par_90=sum((r.par_90 for r in rows), Decimal(0)),
            ageing_outstanding=sum((b.outstanding_principal for b in buckets if b.currency == currency), Decimal(0)),
            portfolio_accounts={r.account_code: r.closing_debit - r.closing_credit for r in tb
                                if roles[r.account_code] == "loan_portfolio"},
            ageing_provision_required=sum((b.provision_required for b in buckets if b.currency == currency),
                                          Decimal(0)),
            provision_required=sum((r.provision_required for r in provisions.rows if r.currency == currency),
                                   Decimal(0)),
            provision_booked=sum((r.provision_booked for r in provisions.rows if r.currency == currency), Decimal(0)),
            provisions_accounts={r.account_code: r.closing_credit - r.closing_debit for r in tb
                                 if roles[r.account_code] == "provisions"}))
    return PortfolioTieOut(as_of=par.as_of, currencies=tuple(out))


def _fmt(amount: Decimal) -> str:
    """Thousands separated, no exponent, no trailing zeros of the stored scale."""
    return f"{plain(amount):,f}"


def tie_out_lines(report: PortfolioTieOut) -> list[str]:
    """The tie-out for the terminal (`grandlivre demo`), in French like the trial balance it follows."""
    if report.as_of is None:
        return ["", "Portefeuille à risque : aucune journée clôturée"]
    lines = ["", f"Portefeuille à risque et provisions au {report.as_of.isoformat()}, rapprochés de la balance "
                 f"à la même date (grandlivre report portfolio-at-risk | loan-ageing | provisioning)"]
    for t in report.currencies:
        def pct(part: Decimal, t: TieOut = t) -> str:
            return f"{part * 100 / t.par_outstanding:.2f} %" if t.par_outstanding else "0.00 %"

        accounts = " + ".join(f"{code} {_fmt(amount)}" for code, amount in sorted(t.portfolio_accounts.items()))
        provisions = " + ".join(f"{code} {_fmt(amount)}" for code, amount in sorted(t.provisions_accounts.items()))
        lines += [
            f"{t.currency}: {t.loans} prêts, encours {_fmt(t.par_outstanding)}; PAR 1 {_fmt(t.par_1)} ({pct(t.par_1)}), "
            f"PAR 30 {_fmt(t.par_30)} ({pct(t.par_30)}), PAR 90 {_fmt(t.par_90)} ({pct(t.par_90)})",
            f"  encours : PAR {_fmt(t.par_outstanding)} = tranches d'âge {_fmt(t.ageing_outstanding)} = balance "
            f"{_fmt(t.portfolio_gl)} ({accounts or 'aucun compte'})",
            f"  provisions : requises (âge) {_fmt(t.ageing_provision_required)} = requises (rapport) "
            f"{_fmt(t.provision_required)} = constituées {_fmt(t.provision_booked)} = balance {_fmt(t.provisions_gl)} "
            f"({provisions or 'aucun compte'})",
        ]
    lines.append("rapprochement : " + ("oui" if report.ties else "ÉCART"))
    return lines
