"""How one table's rows become the store's records, written once per table.

The stores read their records with ``SELECT <columns> FROM <table> WHERE … ORDER BY …``
and turn each row into a frozen dataclass, converting the columns SQLite cannot type
(enums stored as text, booleans stored as 0/1, JSON). Each store used to spell that out
again per table: a column tuple, a parse function, a query helper. A ``Rows`` holds the
three together, so a new column is added in one place and a record can never be built
from columns in a different order than the query's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Rows(Generic[R]):
    """A table's columns, how its rows become records, and the SELECT text that reads them.

    ``convert`` maps a column to the function applied to its value (not to NULL):
    ``VisitState`` for a state stored as text, ``bool`` for a flag stored as 0/1.
    """

    table: str
    columns: tuple[str, ...]
    make: Callable[..., R]
    convert: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.convert) - set(self.columns)
        if unknown:
            raise ValueError(f"{self.table}: conversions for columns it does not read: {sorted(unknown)}")

    def select(self, where: str = "1 = 1", order: str = "id", limited: bool = True) -> str:
        """The query for ``where`` (fixed text with ``?`` marks), ending in ``LIMIT ?`` when ``limited``."""
        query = (f"SELECT {', '.join(self.columns)} FROM {self.table}"
                 f" WHERE {where} ORDER BY {order}")
        return query + " LIMIT ?" if limited else query

    def record(self, row: Sequence[Any], **extra: Any) -> R:
        """One row (in ``columns`` order) as a record; ``extra`` fills fields that are not columns."""
        values = dict(zip(self.columns, row, strict=True))
        for name, convert in self.convert.items():
            if values[name] is not None:
                values[name] = convert(values[name])
        return self.make(**values, **extra)
