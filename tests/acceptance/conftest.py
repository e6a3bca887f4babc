"""Fixtures of the acceptance tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from api.controllers.simulations import LoanSimulationController
from api.errors import EXCEPTION_HANDLERS


@pytest.fixture(scope="module")
def simulator() -> Iterator[TestClient[Litestar]]:
    """The simulation endpoint alone: a schedule needs no database."""
    app = Litestar(route_handlers=[LoanSimulationController], exception_handlers=EXCEPTION_HANDLERS)  # type: ignore[arg-type]
    with TestClient(app=app) as client:
        yield client
