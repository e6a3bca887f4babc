"""Dependencies of the controllers: the unit-of-work factory, the journal service and the
actor. Authentication comes later; until then the actor is the X-Actor header, which every
write requires, so each command already carries who asked for it."""

from __future__ import annotations

from typing import Annotated

from litestar.datastructures import State
from litestar.params import Parameter

from ledger.limits import ACTOR_LENGTH_MAX, IDEMPOTENCY_KEY_LENGTH_MAX
from servicing.journal import JournalService
from servicing.unit_of_work import UnitOfWorkFactory


def provide_uow_factory(state: State) -> UnitOfWorkFactory:
    factory: UnitOfWorkFactory = state.uow_factory
    return factory


def provide_journal(state: State) -> JournalService:
    service: JournalService = state.journal
    return service


def provide_actor(
    x_actor: Annotated[
        str,
        Parameter(header="X-Actor", min_length=1, max_length=ACTOR_LENGTH_MAX, pattern=r"^[\x21-\x7e][\x20-\x7e]*$",
                  description="Who performs the action (a staff user id until authentication lands)"),
    ],
) -> str:
    return x_actor


def provide_idempotency_key(
    idempotency_key: Annotated[
        str | None,
        Parameter(header="Idempotency-Key", required=False, min_length=1, max_length=IDEMPOTENCY_KEY_LENGTH_MAX, pattern=r"^[\x21-\x7e]+$",
                  description="Replaying a request with the same key and body returns the original response"),
    ] = None,
) -> str | None:
    return idempotency_key
