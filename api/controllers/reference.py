"""Reference data routes: currencies, fund sources, payment types, charges, tax rates, usury
caps, holidays and working weeks, activity sectors, loan purposes and their categories,
decision reasons, validation levels, delinquency buckets and credit parameters.

The simple lists share one shape (create, read, change, list), so one factory builds their
controllers from the list's wire types and its `Catalogue`; each handler decodes, calls one
service function and encodes. Reading needs "products:read", changing "products:write".

This module does not use postponed annotations: the factory's handlers are annotated with
the wire types it receives, which Litestar must see as objects, not strings.
"""

from datetime import date
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, patch, post, put
from litestar.params import Parameter

from api.schemas import reference as wire
from api.schemas.common import DATE_MAX, DATE_MIN, INT32_MAX
from api.schemas.problems import PROBLEM_RESPONSES
from products.loans.terms import HolidayRule, Weekday
from products.reference import model
from products.reference.limits import PAGE_SIZE_MAX
from servicing.errors import InvalidInput, NotFound
from servicing.reference import buckets, calendar, catalogue, credit_parameters, currencies, lists, queries
from servicing.reference.grid_templates import GRID_TEMPLATES, load_grid_template
from servicing.unit_of_work import UnitOfWorkFactory

READ = {"permission": "products:read"}
WRITE = {"permission": "products:write"}
Limit = Annotated[int, Parameter(ge=1, le=PAGE_SIZE_MAX, description="Page size")]
Offset = Annotated[int, Parameter(ge=0, le=INT32_MAX, description="Rows to skip")]
CurrencyPath = Annotated[str, Parameter(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. XOF")]


def _checked_id(item_id: int, noun: str) -> int:
    if not 1 <= item_id <= INT32_MAX:
        raise NotFound(f"unknown {noun} {item_id}", field="id")
    return item_id


def _out(stored: catalogue.Stored[Any], out_type: type[Any]) -> Any:
    values = msgspec.structs.asdict(stored.item)
    values.update(id=stored.id, version=stored.version, created_at=stored.created_at,
                  created_by=stored.created_by, updated_at=stored.updated_at, updated_by=stored.updated_by)
    return msgspec.convert(values, out_type, from_attributes=True)


def _definition(data: msgspec.Struct, definition: type[Any]) -> Any:
    return msgspec.convert(msgspec.structs.asdict(data), definition, from_attributes=True)


def list_controller(*, path: str, tag: str, noun: str, plural: str, spec: catalogue.Catalogue[Any],
                    in_type: type[Any], patch_type: type[Any], out_type: type[Any],
                    extra: dict[str, Any] | None = None) -> type[Controller]:
    """A controller with create, read, change and list for one reference list."""

    async def create_item(self: Controller, data: in_type, uow_factory: UnitOfWorkFactory,  # type: ignore[valid-type]
                          actor: str) -> out_type:  # type: ignore[valid-type]
        return _out(await catalogue.create(uow_factory(), spec, _definition(data, spec.definition), actor), out_type)

    async def get_item(self: Controller, item_id: int, uow_factory: UnitOfWorkFactory) -> out_type:  # type: ignore[valid-type]
        return _out(await catalogue.get(uow_factory(), spec, _checked_id(item_id, noun)), out_type)

    async def change_item(self: Controller, item_id: int, data: patch_type,  # type: ignore[valid-type]
                          uow_factory: UnitOfWorkFactory, actor: str) -> out_type:  # type: ignore[valid-type]
        changes = wire.changes_of(data)
        stored = await catalogue.update(uow_factory(), spec, _checked_id(item_id, noun), changes, actor)
        return _out(stored, out_type)

    async def list_items(self: Controller, uow_factory: UnitOfWorkFactory, active: bool | None = None,
                         limit: Limit = 100, offset: Offset = 0) -> list[out_type]:  # type: ignore[valid-type]
        return [_out(stored, out_type) for stored in
                await catalogue.list_all(uow_factory(), spec, active=active, limit=limit, offset=offset)]

    handlers = {
        "create": post("/", status_code=201, responses=PROBLEM_RESPONSES, opt=WRITE, summary=f"Create a {noun}")(
            create_item),
        "read": get("/{item_id:int}", responses=PROBLEM_RESPONSES, opt=READ, summary=f"Read one {noun}")(get_item),
        "change": patch("/{item_id:int}", responses=PROBLEM_RESPONSES, opt=WRITE,
                        summary=f"Change a {noun} (absent fields keep their value)")(change_item),
        "list": get("/", responses=PROBLEM_RESPONSES, opt=READ, summary=f"List {plural}")(list_items),
    }
    name = "".join(part.capitalize() for part in path.rsplit("/", 1)[-1].split("-")) + "Controller"
    return type(name, (Controller,), {"path": path, "tags": [tag], **handlers, **(extra or {})})


FundSourceController = list_controller(
    path="/api/v1/fund-sources", tag="Reference data", noun="fund source", plural="fund sources",
    spec=lists.FUND_SOURCES, in_type=wire.FundSourceIn, patch_type=wire.FundSourcePatch, out_type=wire.FundSourceOut)
PaymentTypeController = list_controller(
    path="/api/v1/payment-types", tag="Reference data", noun="payment type", plural="payment types",
    spec=lists.PAYMENT_TYPES, in_type=wire.PaymentTypeIn, patch_type=wire.PaymentTypePatch,
    out_type=wire.PaymentTypeOut)
ChargeController = list_controller(
    path="/api/v1/charges", tag="Reference data", noun="charge", plural="charges",
    spec=lists.CHARGES, in_type=wire.ChargeIn, patch_type=wire.ChargePatch, out_type=wire.ChargeOut)


def _on(on: date, field: str = "on") -> date:
    if not DATE_MIN <= on <= DATE_MAX:
        raise InvalidInput(f"{field} must be between {DATE_MIN} and {DATE_MAX}", field=field)
    return on


@get("/in-force", responses=PROBLEM_RESPONSES, opt=READ,
     summary="The rate in force on a date (the all-services rate when the operation has none of its own)")
async def tax_rate_in_force(self: Controller, country: Annotated[str, Parameter(pattern=r"^[A-Z]{2}$")],
                            tax_kind: model.TaxKind, operation_kind: model.TaxedOperation, on: date,
                            uow_factory: UnitOfWorkFactory) -> wire.TaxRateOut:  # type: ignore[valid-type]
    found = await queries.find_tax_rate(uow_factory(), country, tax_kind, operation_kind, _on(on))
    if found is None:
        raise NotFound(f"no {tax_kind.value} rate is recorded for {country} on {on}: unknown, not 0 %",
                       field="country")
    return _out(found, wire.TaxRateOut)


@get("/in-force", responses=PROBLEM_RESPONSES, opt=READ, summary="The usury cap in force on a date")
async def usury_cap_in_force(self: Controller, institution_type: model.InstitutionType, on: date,
                             uow_factory: UnitOfWorkFactory,
                             zone: model.MonetaryZone = model.MonetaryZone.UMOA) -> wire.UsuryCapOut:  # type: ignore[valid-type]
    found = await queries.find_usury_cap(uow_factory(), institution_type, _on(on), zone)
    if found is None:
        raise NotFound(f"no usury cap is recorded for {institution_type.value} in {zone.value} on {on}",
                       field="institution_type")
    return _out(found, wire.UsuryCapOut)


TaxRateController = list_controller(
    path="/api/v1/tax-rates", tag="Reference data", noun="tax rate", plural="tax rates (VAT, TAF, TOB)",
    spec=lists.TAX_RATES, in_type=wire.TaxRateIn, patch_type=wire.TaxRatePatch, out_type=wire.TaxRateOut,
    extra={"in_force": tax_rate_in_force})
UsuryCapController = list_controller(
    path="/api/v1/usury-caps", tag="Reference data", noun="usury cap", plural="usury caps",
    spec=lists.USURY_CAPS, in_type=wire.UsuryCapIn, patch_type=wire.UsuryCapPatch, out_type=wire.UsuryCapOut,
    extra={"in_force": usury_cap_in_force})
HolidayController = list_controller(
    path="/api/v1/holidays", tag="Reference data", noun="holiday", plural="holidays",
    spec=calendar.HOLIDAYS, in_type=wire.HolidayIn, patch_type=wire.HolidayPatch, out_type=wire.HolidayOut)
ActivitySectorController = list_controller(
    path="/api/v1/activity-sectors", tag="Reference data", noun="activity sector", plural="activity sectors",
    spec=lists.ACTIVITY_SECTORS, in_type=wire.ActivitySectorIn, patch_type=wire.ActivitySectorPatch,
    out_type=wire.ActivitySectorOut)
LoanPurposeCategoryController = list_controller(
    path="/api/v1/loan-purposes/categories", tag="Reference data", noun="loan purpose category",
    plural="loan purpose categories", spec=lists.LOAN_PURPOSE_CATEGORIES, in_type=wire.LoanPurposeCategoryIn,
    patch_type=wire.LoanPurposeCategoryPatch, out_type=wire.LoanPurposeCategoryOut)
LoanPurposeController = list_controller(
    path="/api/v1/loan-purposes", tag="Reference data", noun="loan purpose", plural="loan purposes",
    spec=lists.LOAN_PURPOSES, in_type=wire.LoanPurposeIn, patch_type=wire.LoanPurposePatch,
    out_type=wire.LoanPurposeOut)
DecisionReasonController = list_controller(
    path="/api/v1/decision-reasons", tag="Reference data", noun="decision reason", plural="decision reasons",
    spec=lists.DECISION_REASONS, in_type=wire.DecisionReasonIn, patch_type=wire.DecisionReasonPatch,
    out_type=wire.DecisionReasonOut)
ValidationLevelController = list_controller(
    path="/api/v1/validation-levels", tag="Reference data", noun="validation level", plural="validation levels",
    spec=lists.VALIDATION_LEVELS, in_type=wire.ValidationLevelIn, patch_type=wire.ValidationLevelPatch,
    out_type=wire.ValidationLevelOut)

CreditInsuranceController = list_controller(
    path="/api/v1/credit-insurances", tag="Reference data", noun="credit insurance", plural="credit insurances",
    spec=lists.CREDIT_INSURANCES, in_type=wire.CreditInsuranceIn, patch_type=wire.CreditInsurancePatch,
    out_type=wire.CreditInsuranceOut)


def _currency_out(info: currencies.CurrencyInfo) -> wire.CurrencyOut:
    return msgspec.convert(info, wire.CurrencyOut, from_attributes=True)


class CurrencyController(Controller):
    path = "/api/v1/currencies"
    tags = ["Reference data"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", responses=PROBLEM_RESPONSES, opt=READ,
         summary="The institution's currencies (all ISO 4217 currencies with include_unconfigured)")
    async def list_currencies(self, uow_factory: UnitOfWorkFactory,
                              include_unconfigured: bool = False) -> list[wire.CurrencyOut]:
        found = await currencies.list_currencies(uow_factory(), include_unconfigured=include_unconfigured)
        return [_currency_out(info) for info in found]

    @get("/{code:str}", responses=PROBLEM_RESPONSES, opt=READ, summary="Read one currency")
    async def get_currency(self, code: CurrencyPath, uow_factory: UnitOfWorkFactory) -> wire.CurrencyOut:
        return _currency_out(await currencies.get_currency(uow_factory(), code))

    @put("/{code:str}", responses=PROBLEM_RESPONSES, opt=WRITE,
         summary="Enable, disable or set the rounding multiple of a currency")
    async def configure_currency(self, code: CurrencyPath, data: wire.CurrencyIn, uow_factory: UnitOfWorkFactory,
                                 actor: str) -> wire.CurrencyOut:
        setting = model.CurrencySetting(code=code, in_multiples_of=data.in_multiples_of, enabled=data.enabled)
        return _currency_out(await currencies.configure_currency(uow_factory(), setting, actor))


def _week_out(stored: calendar.StoredWorkingWeek) -> wire.WorkingWeekOut:
    return wire.WorkingWeekOut(office_id=stored.week.office_id, working_weekdays=list(stored.week.working_weekdays),
                               version=stored.version, updated_at=stored.updated_at, updated_by=stored.updated_by)


class WorkingWeekController(Controller):
    path = "/api/v1/working-weeks"
    tags = ["Reference data"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", responses=PROBLEM_RESPONSES, opt=READ, summary="Working weeks set per office, and the default")
    async def list_weeks(self, uow_factory: UnitOfWorkFactory) -> list[wire.WorkingWeekOut]:
        return [_week_out(stored) for stored in await calendar.list_working_weeks(uow_factory())]

    @put("/default", responses=PROBLEM_RESPONSES, opt=WRITE,
         summary="Set the institution's default working week")
    async def set_default_week(self, data: wire.WorkingWeekIn, uow_factory: UnitOfWorkFactory,
                               actor: str) -> wire.WorkingWeekOut:
        week = model.WorkingWeek(office_id=None, working_weekdays=tuple(data.working_weekdays))
        return _week_out(await calendar.set_working_week(uow_factory(), week, actor))

    @put("/{office_id:int}", responses=PROBLEM_RESPONSES, opt=WRITE,
         summary="Set an office's working week (its branches inherit it)")
    async def set_office_week(self, office_id: int, data: wire.WorkingWeekIn, uow_factory: UnitOfWorkFactory,
                              actor: str) -> wire.WorkingWeekOut:
        week = model.WorkingWeek(office_id=_checked_id(office_id, "office"),
                                 working_weekdays=tuple(data.working_weekdays))
        return _week_out(await calendar.set_working_week(uow_factory(), week, actor))

    @get("/{office_id:int}/working-day", responses=PROBLEM_RESPONSES, opt=READ,
         summary="Where a date lands for an office: the next or previous working day")
    async def working_day(self, office_id: int, on: date, uow_factory: UnitOfWorkFactory,
                          rule: HolidayRule = HolidayRule.NEXT_WORKING_DAY) -> wire.WorkingDayOut:
        answer = await calendar.working_day(uow_factory(), _checked_id(office_id, "office"), _on(on), rule)
        return msgspec.convert(answer, wire.WorkingDayOut, from_attributes=True)


    @get("/{office_id:int}/calendar", responses=PROBLEM_RESPONSES, opt=READ,
         summary="An office's working weekdays and holidays between two dates (at most a year)")
    async def office_calendar(self, office_id: int, uow_factory: UnitOfWorkFactory,
                              from_date: Annotated[date, Parameter(query="from")],
                              to_date: Annotated[date, Parameter(query="to")]) -> wire.OfficeCalendarOut:
        first, last = _on(from_date, "from"), _on(to_date, "to")
        found = await calendar.calendar_between(uow_factory(), _checked_id(office_id, "office"), first, last)
        return wire.OfficeCalendarOut(office_id=office_id, from_date=first, to_date=last,
                                      working_weekdays=[day for day in Weekday if day in found.working_weekdays],
                                      holidays=sorted(found.holidays))


def _bucket_out(stored: buckets.StoredBucket) -> wire.DelinquencyBucketOut:
    return wire.DelinquencyBucketOut(id=stored.id, kind=stored.kind, created_at=stored.created_at,
                                     created_by=stored.created_by, **msgspec.structs.asdict(stored.bucket))


class DelinquencyBucketController(Controller):
    path = "/api/v1/delinquency-buckets"
    tags = ["Reference data"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", responses=PROBLEM_RESPONSES, opt=READ, summary="Delinquency grids in force")
    async def list_buckets(self, uow_factory: UnitOfWorkFactory,
                           kind: model.BucketKind | None = None) -> list[wire.DelinquencyBucketOut]:
        return [_bucket_out(stored) for stored in await buckets.list_buckets(uow_factory(), kind)]

    @get("/templates", responses=PROBLEM_RESPONSES, opt=READ,
         summary="Grid templates that can be loaded (RCSFD of the UEMOA SFDs, generic)")
    async def list_templates(self) -> list[wire.GridTemplateOut]:
        return [wire.GridTemplateOut(name=t.name, label=t.label, description=t.description,
                                     kinds=[kind.value for kind in t.grids]) for t in GRID_TEMPLATES.values()]

    @post("/templates/{template:str}", responses=PROBLEM_RESPONSES, opt=WRITE, status_code=200,
          summary="Load a grid template: replaces the grid of every kind it covers")
    async def load_template(self, template: str, uow_factory: UnitOfWorkFactory,
                            actor: str) -> list[wire.DelinquencyBucketOut]:
        grids = await load_grid_template(uow_factory, template, actor)
        return [_bucket_out(stored) for stored_grid in grids.values() for stored in stored_grid]

    @put("/{kind:str}", responses=PROBLEM_RESPONSES, opt=WRITE,
         summary="Replace the grid of one kind (loan, overdraft, rescheduled_loan) as a whole")
    async def replace_grid(self, kind: model.BucketKind, data: wire.DelinquencyGridIn, uow_factory: UnitOfWorkFactory,
                           actor: str) -> list[wire.DelinquencyBucketOut]:
        grid = [_definition(bucket, model.DelinquencyBucket) for bucket in data.buckets]
        return [_bucket_out(stored) for stored in await buckets.replace_grid(uow_factory(), kind, grid, actor)]


def _parameters_out(stored: credit_parameters.StoredCreditParameters) -> wire.CreditParametersOut:
    return wire.CreditParametersOut(version=stored.version, created_at=stored.created_at, created_by=stored.created_by,
                                    **msgspec.structs.asdict(stored.parameters))


class CreditParametersController(Controller):
    path = "/api/v1/credit-parameters"
    tags = ["Reference data"]  # noqa: RUF012  (Litestar reads a list)

    @get("/", responses=PROBLEM_RESPONSES, opt=READ, summary="The general credit parameters in force")
    async def current_parameters(self, uow_factory: UnitOfWorkFactory) -> wire.CreditParametersOut:
        return _parameters_out(await credit_parameters.current(uow_factory()))

    @put("/", responses=PROBLEM_RESPONSES, opt=WRITE, summary="Set the general credit parameters (a new version)")
    async def set_parameters(self, data: wire.CreditParametersIn, uow_factory: UnitOfWorkFactory,
                             actor: str) -> wire.CreditParametersOut:
        parameters = _definition(data, model.CreditParameters)
        return _parameters_out(await credit_parameters.set_parameters(uow_factory(), parameters, actor))

    @get("/versions", responses=PROBLEM_RESPONSES, opt=READ, summary="Every version, newest first")
    async def list_versions(self, uow_factory: UnitOfWorkFactory, limit: Limit = 100) -> list[wire.CreditParametersOut]:
        return [_parameters_out(stored) for stored in await credit_parameters.versions(uow_factory(), limit)]


REFERENCE_CONTROLLERS = (
    CurrencyController, FundSourceController, PaymentTypeController, ChargeController, TaxRateController,
    UsuryCapController, HolidayController, WorkingWeekController, ActivitySectorController,
    LoanPurposeCategoryController, LoanPurposeController, DecisionReasonController, ValidationLevelController,
    CreditInsuranceController, DelinquencyBucketController, CreditParametersController,
)
"""Every reference-data controller, for `api.app`'s route handlers."""
