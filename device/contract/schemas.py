"""JSON Schemas of the MQTT payloads in CONTRACT §2, shared by the device and the store backend."""

from __future__ import annotations

import json
from typing import Any

import jsonschema


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def loads(raw: str | bytes) -> Any:
    """Decode a payload or file as JSON itself defines it: Python's NaN and Infinity are refused
    (ValueError) wherever they stand, so they never become a price or slip past a `minimum`."""
    return json.loads(raw, parse_constant=_no_constants)


_MONEY = {"type": "number", "minimum": 0}
_NAMES = {"type": "array", "items": {"type": "string", "pattern": "[^\\W_]"}}  # a letter or digit

CATALOG = {
    "type": "object",
    "required": ["schema", "version", "currency", "items"],
    "properties": {
        "schema": {"const": "reorder.catalog/1"},
        "version": {"type": "integer", "minimum": 0},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "names", "unit_price", "max_quantity"],
                "properties": {
                    "sku": {"type": "string", "minLength": 1},
                    "names": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": _NAMES,
                    },
                    "unit_price": _MONEY,
                    "max_quantity": {"type": "integer", "minimum": 1},
                },
            },
        },
    },
}

ORDER = {
    "type": "object",
    "required": ["schema", "order_id", "device_id", "created_at", "items", "total", "currency"],
    "properties": {
        "schema": {"const": "reorder.order/1"},
        "order_id": {"type": "string", "minLength": 1},
        "device_id": {"type": "string", "minLength": 1},
        "created_at": {"type": "string"},
        "locale": {"type": "string"},
        "catalog_version": {"type": "integer"},
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["sku", "quantity", "unit_price"],
                "properties": {
                    "sku": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "unit_price": _MONEY,
                },
            },
        },
        "total": _MONEY,
        "currency": {"type": "string"},
        "confirmed_by": {"type": "string"},
    },
}

ORDER_STATUS = {
    "type": "object",
    "required": ["schema", "order_id", "status"],
    "properties": {
        "schema": {"const": "reorder.order-status/1"},
        "order_id": {"type": "string", "minLength": 1},
        "status": {"enum": ["accepted", "rejected", "duplicate", "cancelled", "shipped"]},
        "reason": {"type": "string"},
        "eta": {"type": "string"},
    },
}

CANCEL = {
    "type": "object",
    "required": ["schema", "order_id", "device_id", "created_at"],
    "properties": {
        "schema": {"const": "reorder.cancel/1"},
        "order_id": {"type": "string", "minLength": 1},
        "device_id": {"type": "string", "minLength": 1},
        "created_at": {"type": "string"},
    },
}

STATE = {
    "type": "object",
    "required": ["schema", "online", "firmware", "outbox_depth", "muted", "since"],
    "properties": {
        "schema": {"const": "reorder.state/1"},
        "online": {"type": "boolean"},
        "firmware": {"type": "string"},
        "outbox_depth": {"type": "integer", "minimum": 0},
        "muted": {"type": "boolean"},
        "since": {"type": "string"},
    },
}

_COUNT = {"type": "integer", "minimum": 0}
_COUNTERS = {
    "type": "object",
    "required": ["wakes", "push_to_talk", "requests", "no_speech", "false_wakes", "refusals", "refusals_by_reason",
                 "readbacks", "confirmations", "cancellations", "undos", "timeouts", "orders_queued",
                 "orders_published", "store_accepted", "store_rejected", "store_duplicate", "store_cancelled",
                 "errors", "decodes", "mean_decode_ms"],
    "properties": {
        "refusals_by_reason": {"type": "object", "additionalProperties": _COUNT},
        "mean_decode_ms": {"type": ["number", "null"], "minimum": 0},
    },
    "additionalProperties": _COUNT,
}

STATS: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "device_id", "firmware", "at", "booted_at", "installed_at", "uptime_seconds", "recognizer",
                 "outbox_depth", "outbox_free_bytes", "last_order_status", "since_boot", "since_install"],
    "properties": {
        "schema": {"const": "reorder.stats/1"},
        "device_id": {"type": "string", "minLength": 1},
        "firmware": {"type": "string"},
        "at": {"type": "string"},
        "booted_at": {"type": "string"},
        "installed_at": {"type": "string"},
        "uptime_seconds": _COUNT,
        "recognizer": {"type": "string"},
        "outbox_depth": _COUNT,
        "outbox_free_bytes": {"type": ["integer", "null"], "minimum": 0},
        "last_order_status": {"enum": ["accepted", "rejected", "duplicate", "cancelled", None]},
        "since_boot": _COUNTERS,
        "since_install": _COUNTERS,
    },
}


_VALIDATORS: dict[int, tuple[dict, jsonschema.Draft202012Validator]] = {}


def _validator(schema: dict) -> jsonschema.Draft202012Validator:
    """The schema's validator, made once (making one took about half of each check; the store checks every order)."""
    made = _VALIDATORS.get(id(schema))
    if made is None or made[0] is not schema:
        made = _VALIDATORS[id(schema)] = (schema, jsonschema.Draft202012Validator(schema))
    return made[1]


def problem(payload: Any, schema: dict) -> str | None:
    """Return one line saying what is wrong with `payload`, or None when it is valid."""
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(payload))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
    return f"{where}: {error.message}"


SCHEMAS: dict[str, dict[str, Any]] = {"order": ORDER, "order-status": ORDER_STATUS, "cancel": CANCEL,
                                      "catalog": CATALOG, "state": STATE, "stats": STATS}
"""Every payload's schema by file stem: docs/schemas/<stem>.schema.json is each one, written by main()."""


def documents() -> dict[str, str]:
    """file name -> the JSON text of each schema as a standalone Draft 2020-12 document (docs/schemas/ holds them)."""
    out = {}
    for stem, schema in SCHEMAS.items():
        title = schema["properties"]["schema"]["const"]
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title,
                    "description": f"The {title} payload (docs/mqtt.md); written from device/contract/schemas.py.",
                    **schema}
        out[f"{stem}.schema.json"] = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m device.contract.schemas --write docs/schemas`: write the files; `--check DIR`: exit 1 if stale."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(prog="python -m device.contract.schemas", description=main.__doc__)
    parser.add_argument("--write", metavar="DIR", help="write every schema into DIR")
    parser.add_argument("--check", metavar="DIR", help="exit 1 naming each file in DIR that differs from the code")
    args = parser.parse_args(argv)
    stale = []
    for name, text in documents().items():
        if args.write:
            Path(args.write).mkdir(parents=True, exist_ok=True)
            (Path(args.write) / name).write_text(text, encoding="utf-8")
        elif args.check and not ((Path(args.check) / name).is_file()
                                 and (Path(args.check) / name).read_text(encoding="utf-8") == text):
            stale.append(name)
        elif not args.check:
            print(f"{name}\n{text}")
    for name in stale:
        print(f"{args.check}/{name} differs from device/contract/schemas.py: run"
              f" python -m device.contract.schemas --write {args.check}")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
