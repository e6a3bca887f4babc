"""Portfolio-risk report benchmark (issue 9, item 12). Run: python bench/risk_reports.py [--database NAME]
[--repeat N] [--explain]

Measures the reports a loan officer and an accountant open the morning after a close, on a
portfolio of 100,000 loans closed by `bench/close_of_business.py` (its database
`grandlivre_bench_cob`, or any database holding a closed portfolio with --database; run
`python bench/close_of_business.py` first when it does not exist). Each figure is the median
of --repeat calls (default 5), through the service the API uses and through the HTTP route
(an administrator signed in, JSON), for the whole institution and narrowed to one branch and
one product. Prints `name: value unit` lines:
  report_<name>_ms           the service call (`servicing.close_of_business.risk_reports`,
                             `provisioning_report`, `tie_out`)
  report_http_<name>_ms      the route (`GET /api/v1/reports/...`), same narrowing
--explain prints, on stderr, EXPLAIN (ANALYZE, BUFFERS) of the reports' statements.
Nothing is written but one administrator user (for the HTTP routes), made once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")
logging.getLogger("httpx").setLevel(logging.WARNING)

from sqlalchemy import text  # noqa: E402

from bench.deposits import progress, say  # noqa: E402
from servicing.close_of_business import risk_reports  # noqa: E402
from servicing.close_of_business.loan_arrears import follow_up_after_days  # noqa: E402
from servicing.close_of_business.provisioning_report import provisioning_report  # noqa: E402
from servicing.close_of_business.risk_reports import RiskFilter, RiskGrouping  # noqa: E402
from servicing.close_of_business.tie_out import portfolio_tie_out  # noqa: E402
from servicing.config import Settings  # noqa: E402
from servicing.database import Database  # noqa: E402
from servicing.loans.product_charges import INSTITUTION  # noqa: E402
from servicing.unit_of_work import UnitOfWorkFactory  # noqa: E402

DATABASE_NAME = "grandlivre_bench_cob"
BENCH_ADMIN = "bench-risk-reports"
TARGET_MS = 1000.0


async def _median_ms(call: Callable[[], Awaitable[Any]], repeat: int) -> float:
    await call()  # warm: plans, catalogue, connection pool
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _verdict(name: str, ms: float) -> str:
    """Against the loan officer's second; the tie-out is the auditor's reconciliation (it runs
    the three reports again, independently, and reads the general ledger), like `verify`."""
    if name == "tie_out":
        return "the auditor's cross-check: the three reports again and the general ledger; no target"
    return f"{'under' if ms < TARGET_MS else 'OVER'} {TARGET_MS:.0f} ms"


async def _narrowing(uow_factory: UnitOfWorkFactory) -> tuple[int, int]:
    """A branch with loans and the loan product with the most loans (the filters measured)."""
    async with uow_factory() as uow:
        office = await uow.session.scalar(text(
            "SELECT office_id FROM loan GROUP BY office_id ORDER BY count(*) DESC, office_id LIMIT 1"))
        product = await uow.session.scalar(text(
            "SELECT product_id FROM loan GROUP BY product_id ORDER BY count(*) DESC, product_id LIMIT 1"))
    assert office is not None and product is not None, "no loan: run bench/close_of_business.py first"
    return office, product


def service_calls(uow_factory: UnitOfWorkFactory, office: int, product: int
                  ) -> dict[str, Callable[[], Awaitable[Any]]]:
    by_office, by_product = RiskFilter(office_id=office), RiskFilter(product_id=product)
    return {
        "par_product": lambda: risk_reports.portfolio_at_risk(uow_factory(), RiskGrouping.PRODUCT, INSTITUTION),
        "par_office": lambda: risk_reports.portfolio_at_risk(uow_factory(), RiskGrouping.OFFICE, INSTITUTION),
        "par_officer": lambda: risk_reports.portfolio_at_risk(uow_factory(), RiskGrouping.OFFICER, INSTITUTION),
        "par_sector": lambda: risk_reports.portfolio_at_risk(uow_factory(), RiskGrouping.SECTOR, INSTITUTION),
        "par_one_office": lambda: risk_reports.portfolio_at_risk(uow_factory(), RiskGrouping.PRODUCT, INSTITUTION,
                                                                 by_office),
        "par_one_product": lambda: risk_reports.portfolio_at_risk(uow_factory(), RiskGrouping.OFFICE, INSTITUTION,
                                                                  by_product),
        "ageing": lambda: risk_reports.ageing(uow_factory(), INSTITUTION),
        "ageing_one_office": lambda: risk_reports.ageing(uow_factory(), INSTITUTION, by_office),
        "ageing_one_product": lambda: risk_reports.ageing(uow_factory(), INSTITUTION, by_product),
        "provisioning": lambda: provisioning_report(uow_factory(), INSTITUTION),
        "provisioning_one_office": lambda: provisioning_report(uow_factory(), INSTITUTION, by_office),
        "provisioning_one_product": lambda: provisioning_report(uow_factory(), INSTITUTION, by_product),
        "arrears": lambda: risk_reports.arrears_list(uow_factory(), INSTITUTION),
        "arrears_one_office": lambda: risk_reports.arrears_list(uow_factory(), INSTITUTION, narrowed=by_office),
        "follow_ups": lambda: risk_reports.follow_up_list(uow_factory(), INSTITUTION,
                                                          institution_days=follow_up_after_days()),
        "tie_out": lambda: portfolio_tie_out(uow_factory),
    }


def routes(office: int, product: int) -> dict[str, str]:
    base = "/api/v1/reports"
    return {
        "par_product": f"{base}/portfolio-at-risk",
        "par_office": f"{base}/portfolio-at-risk?group_by=office",
        "par_one_office": f"{base}/portfolio-at-risk?office_id={office}",
        "par_one_product": f"{base}/portfolio-at-risk?group_by=office&product_id={product}",
        "ageing": f"{base}/loan-ageing",
        "ageing_one_office": f"{base}/loan-ageing?office_id={office}",
        "provisioning": f"{base}/provisioning",
        "provisioning_one_product": f"{base}/provisioning?product_id={product}",
        "arrears": f"{base}/arrears",
        "follow_ups": f"{base}/loan-follow-ups",
        "follow_ups_one_office": f"{base}/loan-follow-ups?office_id={office}",
    }


async def _admin_headers(uow_factory: UnitOfWorkFactory) -> dict[str, str]:
    from servicing.staff import users
    from servicing.staff.config import StaffSettings
    from servicing.staff.passwords import PasswordHashing
    from servicing.staff.sessions import AuthService

    hashing = PasswordHashing(memory_kib=8_192, time_cost=1)
    async with uow_factory() as uow:
        user_id = await uow.session.scalar(text("SELECT id FROM staff_user WHERE username = :name"),
                                           {"name": BENCH_ADMIN})
        head_office = await uow.session.scalar(text("SELECT id FROM office WHERE parent_id IS NULL ORDER BY id"))
    if user_id is None:
        user_id = (await users.create_user(uow_factory, hashing, users.CreateStaffUser(
            username=BENCH_ADMIN, display_name="Administrateur bench", office_id=head_office,
            roles=("administrator",), password="mesure des rapports 2026", actor="bench",
            must_change_password=False))).user_id
    token = (await AuthService(uow_factory, StaffSettings(), hashing).open_session(
        user_id, totp_satisfied=True)).access_token
    return {"Authorization": f"Bearer {token}"}


async def explain(uow_factory: UnitOfWorkFactory, office: int, product: int) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the reports' statements, institution-wide, for one office
    and for one product."""
    from servicing.close_of_business import provisioning_report as provisioning

    follow_up = follow_up_after_days()
    statements: dict[str, tuple[str, dict[str, Any]]] = {
        "par": (f"SELECT l.product_id, l.currency, count(*), sum(s.outstanding_principal) {risk_reports._FROM}"
                " GROUP BY 1, 2", {}),
        "provisioning_groups": (str(provisioning._GROUPS), {}),
        "provisioning_loans": (str(provisioning._PROVISIONED), {}),
        "arrears": (str(risk_reports._ARREARS), {"min_days": 1, "officer": None, "limit": 1000}),
        "follow_ups": (str(risk_reports._FOLLOW_UPS), {
            "floor": follow_up, "products": [], "versions": [], "thresholds": [], "institution_days": follow_up,
            "officer": None, "limit": 1000}),
    }
    async with uow_factory() as uow:
        for name, (sql, extra) in statements.items():
            for narrowing in ({"office": None, "product": None}, {"office": office, "product": None},
                              {"office": None, "product": product}):
                params = {"offices": None, **narrowing, **extra}
                plan = (await uow.session.scalars(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"), params)).all()
                progress(f"--- {name} {narrowing}\n" + "\n".join(plan))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=DATABASE_NAME, help="a database holding a closed loan portfolio")
    parser.add_argument("--repeat", type=int, default=5, help="calls per figure (the median is printed)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) on stderr")
    parser.add_argument("--only", default="", help="comma-separated report names to measure (default: all)")
    arguments = parser.parse_args()
    settings = Settings.from_environment()
    settings = Settings(database_url=settings.database_url, home=settings.home, database_name=arguments.database)
    database = await Database.locate(settings)
    await database.migrate_async()
    engine = database.app_engine(pool_size=4)
    uow_factory = UnitOfWorkFactory(engine)
    async with uow_factory() as uow:
        loans = await uow.session.scalar(text("SELECT count(*) FROM loan_arrears_state"))
    progress(f"{arguments.database}: {loans:,} loans aged by the close of business")
    office, product = await _narrowing(uow_factory)
    only = {name for name in arguments.only.split(",") if name}
    if arguments.explain:
        await explain(uow_factory, office, product)
    for name, call in service_calls(uow_factory, office, product).items():
        if only and name not in only:
            continue
        ms = await _median_ms(call, arguments.repeat)
        say(f"report_{name}_ms: {ms:.1f} ms ({_verdict(name, ms)})")

    from litestar.testing import AsyncTestClient

    from api.app import create_app

    headers = await _admin_headers(uow_factory)
    async with AsyncTestClient(app=create_app(settings, database=database, migrate=False)) as client:
        for name, url in routes(office, product).items():
            if only and name not in only:
                continue

            async def get(url: str = url) -> None:
                response = await client.get(url, headers=headers)
                assert response.status_code == 200, (url, response.status_code, response.text[:300])

            ms = await _median_ms(get, arguments.repeat)
            say(f"report_http_{name}_ms: {ms:.1f} ms ({_verdict(name, ms)})")
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
