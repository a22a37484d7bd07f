"""The household's catalogue (CONTRACT §2): re-orderable items, their names per language and prices."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from device.contract import schemas
from device.errors import CatalogueError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogueItem:
    """One re-orderable product."""

    sku: str
    names: dict[str, tuple[str, ...]]
    """Names a person may say, per language code ("en", "fr"); the first is the one read back."""
    unit_price: Decimal
    max_quantity: int

    def names_for(self, language: str) -> tuple[str, ...]:
        """The names of this item in `language` (empty when the catalogue has none)."""
        return self.names.get(language, ())

    def display_name(self, language: str) -> str:
        """The name read back to the user: the first name in that language, else the SKU."""
        names = self.names_for(language)
        return names[0] if names else self.sku


@dataclass(frozen=True)
class Catalogue:
    """A validated catalogue; immutable so that the loop can swap it atomically."""

    version: int
    currency: str
    items: tuple[CatalogueItem, ...]

    def item(self, sku: str) -> CatalogueItem | None:
        """The item with this SKU, or None."""
        return next((i for i in self.items if i.sku == sku), None)

    @classmethod
    def from_payload(cls, payload: Any, source: str = "catalogue") -> "Catalogue":
        """Validate a decoded `reorder.catalog/1` object; raises CatalogueError naming `source`."""
        wrong = schemas.problem(payload, schemas.CATALOG)
        if wrong:
            raise CatalogueError(f"{source} is not a valid reorder.catalog/1: {wrong}")
        skus = [i["sku"] for i in payload["items"]]
        duplicates = sorted({s for s in skus if skus.count(s) > 1})
        if duplicates:
            raise CatalogueError(f"{source}: SKU {duplicates[0]} appears more than once; give each item one entry")
        items = tuple(
            CatalogueItem(
                sku=i["sku"],
                names={lang: tuple(n.strip() for n in names if n.strip()) for lang, names in i["names"].items()},
                unit_price=Decimal(str(i["unit_price"])),
                max_quantity=int(i["max_quantity"]),
            )
            for i in payload["items"]
        )
        return cls(version=int(payload["version"]), currency=payload["currency"], items=items)

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "catalogue") -> "Catalogue":
        """Parse and validate catalogue JSON text."""
        try:
            payload = schemas.loads(text)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise CatalogueError(f"{source} is not JSON ({exc}); fix the file or re-publish it") from None
        return cls.from_payload(payload, source)

    @classmethod
    def load(cls, path: str | Path) -> "Catalogue":
        """Read and validate a catalogue file."""
        path = Path(path)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise CatalogueError(f"catalogue file {path} cannot be read ({exc.strerror}); check --catalog") from None
        return cls.from_json(text, source=f"catalogue file {path}")

    def save(self, path: str | Path) -> None:
        """Write atomically (the last good catalogue kept for an offline reboot); raises OSError."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_payload(), ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)

    def to_payload(self) -> dict[str, Any]:
        """The `reorder.catalog/1` object for this catalogue (for caching and publishing)."""
        return {
            "schema": "reorder.catalog/1",
            "version": self.version,
            "currency": self.currency,
            "items": [
                {
                    "sku": i.sku,
                    "names": {lang: list(n) for lang, n in i.names.items()},
                    "unit_price": float(i.unit_price),
                    "max_quantity": i.max_quantity,
                }
                for i in self.items
            ],
        }
