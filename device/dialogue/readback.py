"""The read-back: every item, its quantity and the total price, in the request's language.

The German court that banned the Dash button asked for exactly this before a paid order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from device.contract.catalogue import Catalogue
from device.dialogue.phrasebook import phrasebook
from device.events import IntentItem

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "CAD": "$", "CHF": "CHF", "JPY": "¥"}


def money(amount: Decimal, currency: str, locale: str) -> str:
    """An amount as written in the locale: "$7.77" / "€7.77" in en-US, "7,77 €" in fr-FR."""
    amount = amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
    symbol = _SYMBOLS.get(currency, currency)
    if locale.startswith("fr"):
        return f"{str(amount).replace('.', ',')} {symbol}"
    return f"{symbol}{amount}" if len(symbol) == 1 else f"{amount} {symbol}"


_SPOKEN_UNITS = {"EUR": ("euro", "euros"), "USD": ("dollar", "dollars"), "GBP": ("pound", "pounds"),
                 "CAD": ("dollar", "dollars"), "CHF": ("franc", "francs")}


def spoken_money(amount: Decimal, currency: str, locale: str) -> str:
    """An amount as a voice should say it ("7 euros 77"): symbols and decimals read badly."""
    amount = amount.quantize(Decimal("0.01"), ROUND_HALF_UP)
    whole, cents = divmod(int(amount * 100), 100)
    one, many = _SPOKEN_UNITS.get(currency, (currency, currency))
    unit = one if whole == 1 else many
    return f"{whole} {unit} {cents:02d}" if cents else f"{whole} {unit}"


def total_of(items: tuple[IntentItem, ...], catalogue: Catalogue) -> Decimal:
    """Sum of quantity × unit price, rounded to cents."""
    total = sum((catalogue.item(i.sku).unit_price * i.quantity for i in items), Decimal("0"))  # type: ignore[union-attr]
    return total.quantize(Decimal("0.01"), ROUND_HALF_UP)


def message(key: str, locale: str, **values: str) -> str:
    """A short spoken message ("Cancelled.", "Annulé.") with reasons put in words (device/messages/*.toml)."""
    return phrasebook(locale).say(key, **values)


@dataclass(frozen=True)
class Readback:
    """What the device says before asking for a press."""

    summary: str
    """Items, quantities and total as written (the `prompt` event)."""
    spoken: str
    """The same, as said: the part that must be heard before a press counts."""
    instruction: str
    """What to do next ("Press the button to order.")."""
    total: Decimal

    @property
    def text(self) -> str:
        """The whole read-back, as in the `prompt` event."""
        return f"{self.summary} {self.instruction}"


def line_text(item: IntentItem, catalogue: Catalogue, language: str) -> str:
    """"3 × orange juice" as spoken: "3 orange juice" / "3 jus d'orange"."""
    entry = catalogue.item(item.sku)
    name = entry.display_name(language) if entry else item.sku
    return f"{item.quantity} {name}"


def readback(items: tuple[IntentItem, ...], catalogue: Catalogue, locale: str,
             repeated: tuple[str, ...] = (), usual: bool = False) -> Readback:
    """The read-back of an order; `repeated` names SKUs ordered recently (the repeat guard); `usual`
    says first that this is the last order again ("Your usual order: ...")."""
    language = locale.split("-")[0]
    phrases = phrasebook(locale).phrases
    total = total_of(items, catalogue)
    lines = ", ".join(line_text(i, catalogue, language) for i in items)
    summary = f"{lines}. Total {money(total, catalogue.currency, locale)}."
    spoken = f"{lines}, {spoken_money(total, catalogue.currency, locale)}"
    if usual:
        summary, spoken = f"{phrases['usual']} {summary}", f"{phrases['usual']} {spoken}"
    instruction = phrases["press"]
    ambiguous = [i for i in items if i.alternatives]
    if ambiguous:
        item = ambiguous[0]
        others = f" {phrases['or']} ".join(known.display_name(language) for s in item.alternatives
                                           if (known := catalogue.item(s)))
        chosen = catalogue.item(item.sku)
        assert chosen is not None  # the parser only names SKUs of this catalogue
        instruction = phrases["choose"].format(heard=item.heard, a=chosen.display_name(language), b=others)
    if repeated:
        names = ", ".join(known.display_name(language) for s in repeated if (known := catalogue.item(s)))
        instruction = phrases["again"].format(names=names)
    return Readback(summary, spoken, instruction, total)
