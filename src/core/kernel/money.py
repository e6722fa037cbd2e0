"""Money is integer minor units plus an ISO 4217 currency code; never a float."""

from __future__ import annotations

import re
from typing import Self

import msgspec

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class CurrencyMismatchError(ValueError):
    """Arithmetic between two different currencies."""


class Money(msgspec.Struct, frozen=True):
    """An amount in a currency's minor unit (cents for USD, yen for JPY)."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount is an integer number of minor units")
        if not _CURRENCY.match(self.currency):
            raise ValueError(f"currency must be an ISO 4217 code like 'USD': {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Self:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(f"{self.currency} and {other.currency} do not mix")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def times(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    @property
    def is_negative(self) -> bool:
        return self.amount < 0
