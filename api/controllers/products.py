"""Loan, deposit and term-deposit products: create, read, change (a new version), list,
versions, deactivate and reactivate; and the posting preview of any product.

The three product kinds share one shape of routes, built by `_product_router` with the
kind's settings and response types (real annotations, not strings, so Litestar documents
each kind's own schema). Handlers translate HTTP to one service call and nothing else.
"""

# No `from __future__ import annotations`: the handlers below are built in a function and
# annotate with its arguments, which Litestar must see as types, not as names to resolve.

from typing import Annotated, Any

from litestar import Controller, Router, get, post, put
from litestar.params import Parameter

from api.schemas.common import INT32_MAX
from api.schemas.problems import PROBLEM_RESPONSES
from api.schemas.products import (
    DepositProductOut,
    DerivedTermsIn,
    LoanProductOut,
    PostingPreviewIn,
    PostingPreviewOut,
    ProductVersionOut,
    RateQuoteIn,
    RateQuoteOut,
    TermDepositProductOut,
)
from ledger.limits import PAGE_SIZE_MAX
from products.deposits.product import DepositProduct
from products.loans.product import LoanProduct
from products.posting_rules import ProductKind
from products.term_deposits.product import TermDepositProduct
from servicing.products import service
from servicing.products.terms import DerivedTerms, loan_terms_for
from servicing.unit_of_work import UnitOfWorkFactory

ProductId = Annotated[int, Parameter(ge=1, le=INT32_MAX, description="Product id")]
VersionNumber = Annotated[int, Parameter(ge=1, le=INT32_MAX, description="Version number")]
READ = {"permission": "products:read"}
WRITE = {"permission": "products:write"}


def _product_router(kind: ProductKind, path: str, label: str, settings_type: Any, out_type: Any) -> Router:
    tags = [label.capitalize() + "s"]

    @post("/", status_code=201, opt=WRITE, responses=PROBLEM_RESPONSES, summary=f"Create a {label}",
          operation_id=f"create_{kind.value}_product")
    async def create(data: settings_type, uow_factory: UnitOfWorkFactory, actor: str) -> out_type:
        return out_type.from_record(await service.create_product(uow_factory(), data, actor))

    @get("/", opt=READ, responses=PROBLEM_RESPONSES, summary=f"List {label}s (current versions)",
         operation_id=f"list_{kind.value}_products")
    async def list_all(
        uow_factory: UnitOfWorkFactory,
        active: Annotated[bool | None, Parameter(query="active", required=False)] = None,
        after_id: Annotated[int, Parameter(query="after_id", ge=0, le=INT32_MAX)] = 0,
        limit: Annotated[int, Parameter(query="limit", ge=1, le=PAGE_SIZE_MAX)] = 100,
    ) -> list[out_type]:
        records = await service.list_products(uow_factory(), kind, active=active, after_id=after_id, limit=limit)
        return [out_type.from_record(r) for r in records]

    @get("/{product_id:int}", opt=READ, responses=PROBLEM_RESPONSES, summary=f"Read a {label}",
         operation_id=f"get_{kind.value}_product")
    async def read(product_id: ProductId, uow_factory: UnitOfWorkFactory) -> out_type:
        return out_type.from_record(await service.get_product(uow_factory(), kind, product_id))

    @put("/{product_id:int}", opt=WRITE, responses=PROBLEM_RESPONSES,
         summary=f"Change a {label}: the settings become a new version",
         description="Accounts opened on earlier versions keep their terms. Send the whole settings; "
                     "expected_version refuses the change if someone else changed the product first.",
         operation_id=f"update_{kind.value}_product")
    async def change(
        product_id: ProductId, data: settings_type, uow_factory: UnitOfWorkFactory, actor: str,
        expected_version: Annotated[int | None, Parameter(query="expected_version", ge=1, le=INT32_MAX,
                                                          required=False)] = None,
    ) -> out_type:
        record = await service.update_product(uow_factory(), kind, product_id, data, actor, expected_version)
        return out_type.from_record(record)

    @get("/{product_id:int}/versions", opt=READ, responses=PROBLEM_RESPONSES, summary=f"Versions of a {label}",
         operation_id=f"list_{kind.value}_product_versions")
    async def versions(product_id: ProductId, uow_factory: UnitOfWorkFactory) -> list[ProductVersionOut]:
        return [ProductVersionOut.from_summary(v) for v in await service.list_versions(uow_factory(), kind, product_id)]

    @get("/{product_id:int}/versions/{version:int}", opt=READ, responses=PROBLEM_RESPONSES,
         summary=f"One version of a {label}", operation_id=f"get_{kind.value}_product_version")
    async def read_version(product_id: ProductId, version: VersionNumber,
                           uow_factory: UnitOfWorkFactory) -> out_type:
        return out_type.from_record(await service.get_product(uow_factory(), kind, product_id, version))

    @post("/{product_id:int}/deactivate", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary=f"Deactivate a {label} (no new accounts; open ones go on)",
          operation_id=f"deactivate_{kind.value}_product")
    async def deactivate(product_id: ProductId, uow_factory: UnitOfWorkFactory, actor: str) -> out_type:
        return out_type.from_record(await service.set_product_active(uow_factory(), kind, product_id, False, actor))

    @post("/{product_id:int}/activate", status_code=200, opt=WRITE, responses=PROBLEM_RESPONSES,
          summary=f"Reactivate a {label}", operation_id=f"activate_{kind.value}_product")
    async def activate(product_id: ProductId, uow_factory: UnitOfWorkFactory, actor: str) -> out_type:
        return out_type.from_record(await service.set_product_active(uow_factory(), kind, product_id, True, actor))

    return Router(path=path, tags=tags, route_handlers=[create, list_all, read, change, versions, read_version,
                                                         deactivate, activate])


loan_products = _product_router(ProductKind.LOAN, "/api/v1/loan-products", "loan product", LoanProduct,
                                LoanProductOut)
deposit_products = _product_router(ProductKind.DEPOSIT, "/api/v1/deposit-products", "deposit product",
                                   DepositProduct, DepositProductOut)
term_deposit_products = _product_router(ProductKind.TERM_DEPOSIT, "/api/v1/term-deposit-products",
                                        "term-deposit product", TermDepositProduct, TermDepositProductOut)


class ProductPostingController(Controller):
    path = "/api/v1/products"
    tags = ["Posting rules"]  # noqa: RUF012  (Litestar reads a list)

    @post("/{product_id:int}/posting-preview", status_code=200, opt=READ, responses=PROBLEM_RESPONSES,
          summary="Preview the balanced lines a product posts for an event (nothing is written)")
    async def posting_preview(self, product_id: ProductId, data: PostingPreviewIn,
                              uow_factory: UnitOfWorkFactory) -> PostingPreviewOut:
        preview = await service.preview_posting(uow_factory(), product_id, data.to_event, data.version)
        return PostingPreviewOut.from_preview(preview)


class LoanTermsController(Controller):
    path = "/api/v1/loan-products"
    tags = ["Loan products"]  # noqa: RUF012  (Litestar reads a list)

    @post("/{product_id:int}/derived-terms", status_code=200, opt=READ, responses=PROBLEM_RESPONSES,
          summary="The loan terms a product gives for a borrower's cycle and the officer's choices",
          description="Defaults, borrower-cycle variation, amount band and allowed overrides applied; the "
                      "answer is the terms the schedule engine (POST /api/v1/loans/simulations) takes.")
    async def derived_terms(self, product_id: ProductId, data: DerivedTermsIn,
                            uow_factory: UnitOfWorkFactory) -> DerivedTerms:
        return await loan_terms_for(uow_factory(), product_id, data.overrides, data.cycle, data.version,
                                    data.office_id)


class TermDepositRateController(Controller):
    path = "/api/v1/term-deposit-products"
    tags = ["Term-deposit products"]  # noqa: RUF012  (Litestar reads a list)

    @post("/{product_id:int}/rate-quote", status_code=200, opt=READ, responses=PROBLEM_RESPONSES,
          summary="The rate a deposit earns: chart valid that day, slab of its term and amount, client incentives")
    async def rate_quote(self, product_id: ProductId, data: RateQuoteIn,
                         uow_factory: UnitOfWorkFactory) -> RateQuoteOut:
        version, quote = await service.quote_term_deposit_rate(
            uow_factory(), product_id, opened_on=data.opened_on, term=data.term, amount=data.amount,
            client=data.client, version=data.version)
        return RateQuoteOut(product_id=product_id, version=version, rate_percent=quote.rate_percent,
                            base_rate_percent=quote.base_rate_percent, chart_index=quote.chart_index,
                            slab_index=quote.slab_index, incentives_applied=list(quote.incentives_applied))


PRODUCT_ROUTES = [loan_products, deposit_products, term_deposit_products, ProductPostingController,
                  LoanTermsController, TermDepositRateController]
