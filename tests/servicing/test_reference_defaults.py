"""The defaults `grandlivre demo` seeds: valid through the same services as the API, cited,
and idempotent (a second run creates nothing)."""

from __future__ import annotations

from datetime import date

from products.reference.model import BucketKind, InstitutionType
from products.reference.validation import in_force
from servicing import chart
from servicing.reference import buckets, catalogue, credit_parameters, currencies, defaults, lists


async def test_defaults_are_seeded_once_and_cite_their_sources(uow_factory) -> None:  # type: ignore[no-untyped-def]
    await chart.load_chart_template(uow_factory(), "sfd-uemoa", "tests")
    await defaults.seed_reference_defaults(uow_factory, "tests")
    await defaults.seed_demo_reference(uow_factory, "tests")
    assert await defaults.seed_reference_defaults(uow_factory, "tests") == 0
    assert await defaults.seed_demo_reference(uow_factory, "tests") == 0

    enabled = {info.code: info for info in await currencies.list_currencies(uow_factory()) if info.enabled}
    assert {"XOF", "XAF", "EUR", "USD"} <= set(enabled)
    assert (enabled["XOF"].decimals, enabled["XAF"].decimals, enabled["EUR"].decimals) == (0, 0, 2)

    grid = [stored.bucket for stored in await buckets.list_buckets(uow_factory(), BucketKind.LOAN)]
    assert [(b.days_overdue_min, b.provision_rate_percent) for b in grid] == [
        (0, 0), (91, 40), (181, 80), (366, 100), (731, 100)]
    assert all("RCSFD" in b.source for b in grid)

    caps = [stored.item for stored in await catalogue.list_all(uow_factory(), lists.USURY_CAPS)
            if stored.item.zone == "UMOA"]
    microfinance = [cap for cap in caps if cap.institution_type is InstitutionType.MICROFINANCE]
    banks = [cap for cap in caps if cap.institution_type is InstitutionType.BANK]
    assert in_force(microfinance, date(2026, 11, 23)).rate_annual_percent == 24  # type: ignore[union-attr]
    assert in_force(banks, date(2025, 6, 1)).rate_annual_percent == 15  # type: ignore[union-attr]
    assert in_force(banks, date(2026, 6, 1)).rate_annual_percent == 14  # type: ignore[union-attr]
    assert all(cap.source and cap.legal_reference for cap in caps)

    charges = {stored.item.name: stored.item for stored in await catalogue.list_all(uow_factory(), lists.CHARGES)}
    assert charges["Pénalité de retard"].is_penalty and charges["Pénalité de retard"].income_gl_account_code == "7023"
    parameters = await credit_parameters.current(uow_factory())
    assert parameters.parameters.institution_type is InstitutionType.MICROFINANCE
