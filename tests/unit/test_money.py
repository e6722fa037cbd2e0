import msgspec
import pytest

from core.kernel import CurrencyMismatchError, Money


def test_amounts_in_one_currency_add_and_subtract() -> None:
    assert Money(1050, "USD") + Money(250, "USD") == Money(1300, "USD")
    assert Money(1050, "USD") - Money(2000, "USD") == Money(-950, "USD")
    assert Money(300, "EUR").times(3) == Money(900, "EUR")


def test_currencies_never_mix() -> None:
    with pytest.raises(CurrencyMismatchError):
        _ = Money(100, "USD") + Money(100, "EUR")
    with pytest.raises(CurrencyMismatchError):
        _ = Money(100, "USD") < Money(100, "EUR")


def test_money_is_whole_minor_units_only() -> None:
    with pytest.raises(TypeError):
        Money(10.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(True, "USD")


@pytest.mark.parametrize("currency", ["usd", "US", "DOLLAR", ""])
def test_currency_must_be_an_iso_code(currency: str) -> None:
    with pytest.raises(ValueError, match="ISO 4217"):
        Money(1, currency)


def test_money_round_trips_through_json() -> None:
    encoded = msgspec.json.encode(Money(1999, "JPY"))

    assert encoded == b'{"amount":1999,"currency":"JPY"}'
    assert msgspec.json.decode(encoded, type=Money) == Money(1999, "JPY")


def test_ordering_and_sign() -> None:
    assert Money(1, "USD") < Money(2, "USD") <= Money(2, "USD")
    assert (-Money(5, "USD")).is_negative
    assert Money.zero("GBP") == Money(0, "GBP")
