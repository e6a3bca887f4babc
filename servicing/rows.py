"""Result rows as named tuples, for the set-based steps that read each row many times."""

from __future__ import annotations

import collections
import functools
from typing import Any


def named_rows(result: Any) -> list[Any]:
    """A result's rows as named tuples. A close-of-business step reads each loan's row a dozen
    times or more, and reading a column of a SQLAlchemy Row by name costs about ten times a
    named tuple's attribute: for the 50,000 loans of a night's accrual, most of the time its
    row loops took."""
    return list(map(_row_class(tuple(result.keys()))._make, result.all()))


@functools.lru_cache(maxsize=128)
def _row_class(fields: tuple[str, ...]) -> Any:
    return collections.namedtuple("Row", fields)
