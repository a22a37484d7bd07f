"""`reorder store-backend`: run the reference store backend until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import textwrap
import threading
from pathlib import Path
from typing import NoReturn

from device.contract.catalogue import Catalogue
from device.errors import ConfigError, ReorderError
from device.store.backend import StoreBackend

log = logging.getLogger(__name__)

PROG = "reorder store-backend"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


EPILOG = """examples:
  reorder store-backend --db orders.sqlite3 --catalog device/samples/catalog.json --client-id store-1
  reorder store-backend --broker mqtts://broker.example:8883 --username store --password-file store.pw \\
      --db postgresql://store@db.example:5432/orders --client-id store-2 --workers 8

exit codes:
  0    stopped by SIGTERM or SIGINT
  1    failed while running: the broker could not be reached, or did not acknowledge
  2    a bad option, password file or catalogue (one line on stderr)

docs: docs/store.md (the store), docs/mqtt.md (topics, payloads, JSON Schemas)"""


def build_parser() -> argparse.ArgumentParser:
    """The options of `reorder store-backend`."""
    p = _Parser(prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
                description=textwrap.fill("The reference store backend: consumes every device's orders over MQTT"
                " (a shared subscription, so several instances split the stream), checks each against the device's"
                " catalogue, applies each order_id once and answers on order-status; publishes catalogues retained."
                " Runs until SIGTERM or SIGINT.", 79))
    p.add_argument("--broker", default="mqtt://127.0.0.1:1883", metavar="URL",
                   help="mqtt://host:port or mqtts://host:port (default: %(default)s)")
    p.add_argument("--db", required=True, metavar="PATH|URL",
                   help="the order book shared by every instance: a SQLite file, or a PostgreSQL database"
                   " postgresql://user@host:port/name (needs the [store] extra)")
    p.add_argument("--catalog", type=Path, metavar="PATH",
                   help="default catalogue for devices that have none of their own (default: none)")
    p.add_argument("--topic-prefix", default="reorder/v1", metavar="PREFIX", help="topic prefix (default: %(default)s)")
    p.add_argument("--username", metavar="NAME", help="broker account of the store (default: none, anonymous)")
    p.add_argument("--password-file", type=Path, metavar="PATH",
                   help="file holding the broker password (mode 0600; needs --username; default: none)")
    p.add_argument("--ca-file", type=Path, metavar="PATH", help="CA certificate for mqtts:// (default: the system's)")
    p.add_argument("--client-id", metavar="ID", help="a stable MQTT client id per instance: keeps the broker session,"
                   " so orders sent while the backend is down wait for it (default: store-<random>, no session)")
    p.add_argument("--session-expiry", type=int, default=7 * 24 * 3600, metavar="SECONDS",
                   help="how long the broker keeps the session of --client-id while it is away"
                   " (default: %(default)s, 7 days)")
    p.add_argument("--cancel-window", type=float, default=120.0, metavar="SECONDS",
                   help="how long after it was applied an order may be cancelled (default: %(default)s)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="messages handled at once, one device's in order (default: 1 for SQLite, 4 for PostgreSQL)")
    p.add_argument("--publish-catalog", action="append", default=[], metavar="DEVICE_ID",
                   help="publish the default catalogue retained for this device at start (repeatable; default: none)")
    return p


def _read_password(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8").strip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"password file {path} cannot be read ({exc}); check --password-file") from None


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the backend until SIGTERM/SIGINT; one line on stderr on failure."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    from device.adapters.hardware.systemd import log_handler

    # Time-stamped lines in a terminal; under systemd, journal lines (priority prefix, journald's time stamp).
    handler = log_handler(sys.stderr, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    backend: StoreBackend | None = None
    try:
        if args.password_file and not args.username:
            raise ConfigError("--password-file needs --username")
        if args.cancel_window < 0 or args.session_expiry < 0:
            raise ConfigError("--cancel-window and --session-expiry must not be negative")
        if args.workers is not None and not 1 <= args.workers <= 64:
            raise ConfigError(f"--workers must be 1 to 64 (got {args.workers})")
        backend = StoreBackend(
            args.broker, args.db, catalogue=Catalogue.load(args.catalog) if args.catalog else None,
            prefix=args.topic_prefix, client_id=args.client_id, username=args.username,
            password=_read_password(args.password_file), ca_file=args.ca_file,
            cancel_window=args.cancel_window, session_expiry=args.session_expiry, workers=args.workers,
        )
        backend.start()
        for device_id in args.publish_catalog:
            backend.announce_catalog(device_id)
    except ReorderError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        if backend is not None:
            backend.stop()
        return exc.exit_code
    if args.client_id is None:
        log.warning("no --client-id: orders sent while this backend is down are not kept for it")
    _wait_for_signal()
    log.info("stopping")
    backend.stop()
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


if __name__ == "__main__":
    sys.exit(main())
