"""Dependencies of the controllers: the unit-of-work factory, the journal service, and who
asks: `principal` (the signed-in staff user, set by the global guard), `actor` (their user
name, which every command carries) and `office_scope` (their office and its branches)."""

from __future__ import annotations

from typing import Annotated

from litestar import Request
from litestar.datastructures import State
from litestar.params import Parameter

from api.guards import principal_of
from ledger.limits import IDEMPOTENCY_KEY_LENGTH_MAX
from servicing.journal import JournalService
from servicing.staff.maker_checker import MakerChecker
from servicing.staff.scope import OfficeScope
from servicing.staff.sessions import AuthService, Principal
from servicing.unit_of_work import UnitOfWorkFactory


def provide_uow_factory(state: State) -> UnitOfWorkFactory:
    factory: UnitOfWorkFactory = state.uow_factory
    return factory


def provide_journal(state: State) -> JournalService:
    service: JournalService = state.journal
    return service


def provide_auth(state: State) -> AuthService:
    service: AuthService = state.auth
    return service


def provide_maker_checker(state: State) -> MakerChecker:
    service: MakerChecker = state.maker_checker
    return service


def provide_principal(request: Request) -> Principal:  # type: ignore[type-arg]
    return principal_of(request)


def provide_actor(request: Request) -> str:  # type: ignore[type-arg]
    """The signed-in user's name: who performs the command."""
    return principal_of(request).username


def provide_office_scope(request: Request) -> OfficeScope:  # type: ignore[type-arg]
    """The signed-in user's office and its branches: what they may see and act on."""
    return principal_of(request).scope


IdempotencyKeyHeader = Annotated[
    str | None,
    Parameter(header="Idempotency-Key", required=False, min_length=1, max_length=IDEMPOTENCY_KEY_LENGTH_MAX, pattern=r"^[\x21-\x7e]+$",
              description="Replaying a request with the same key and body returns the original response"),
]
"""The Idempotency-Key header as a handler parameter: hot paths take it so, rather than through
the `header_idempotency_key` dependency (each dependency costs the request a task)."""


def provide_idempotency_key(idempotency_key: IdempotencyKeyHeader = None) -> str | None:
    return idempotency_key
