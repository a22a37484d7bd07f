"""The reference store backend on a real PostgreSQL (tests/support.py) and a real Mosquitto.

The same messages give the same answers and rows as on SQLite; two instances on one shared
subscription and one database apply each order once; a PostgreSQL restart or outage loses nothing
and applies nothing twice.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.store import StoreBackend
from tests.conftest import Mosquitto, free_port
from tests.support import Postgres, binaries
from tests.tcp_proxy import TcpProxy
from tests.test_store_backend import (  # noqa: F401 - fixtures
    DEVICE,
    ROOT,
    STATUS,
    Clock,
    Device,
    _cli,
    answers,
    cancel,
    catalogue,
    device,
    order,
)

try:
    import psycopg
except ImportError:  # reported by the postgres fixture
    psycopg = None

EVERY_STATUS = "reorder/v1/devices/+/order-status"


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """One PostgreSQL server for this module (fsync off: a test's data needs no power-loss safety)."""
    if psycopg is None:
        pytest.fail("psycopg is not installed: pip install -e '.[test,store]' (scripts/dev does)")
    if binaries() is None:
        pytest.fail("PostgreSQL is not installed: apt-get install postgresql (see .ci/run)")
    server = Postgres(fsync=False).start()
    yield server
    server.remove()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto saving its persistence every minute, as in production (the `mosquitto` fixture saves
    after every message, which makes thousands of messages slow)."""
    made = Mosquitto(tmp_path / "broker", extra_config="autosave_on_changes false\nautosave_interval 60\n").start()
    yield made
    made.stop()


@pytest.fixture
def database(postgres: Postgres) -> str:
    """The URL of a new, empty database on the module's server."""
    if not (postgres.data / "postmaster.pid").exists():
        postgres.start()  # a test that stopped it and failed before starting it again
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return postgres.url_of(name)


def rows(url: str) -> list[tuple]:
    """Every orders row (order_id, device_id, status, reason), by order_id."""
    with psycopg.connect(url) as db:
        return db.execute("SELECT order_id, device_id, status, reason FROM orders ORDER BY order_id").fetchall()


def conversation(store: StoreBackend, device: Device, status, clock: Clock) -> dict[str, list[dict]]:
    """One fixed exchange touching every answer of the contract; each device's answers in order.

    (Only each device's answers are in order: with several workers, two devices' are handled at once.)
    """
    def ordered(oid: str, *lines, **kw) -> dict:
        return order(*lines, order_id=oid, **kw)

    kept, undone = ordered("kept"), ordered("undone", ("COFFEE-500G", 1, 6.49))
    refused = ordered("refused", ("MILK-1L", 2, 1.05))
    for sent in (kept, undone, refused, ordered("caviar", ("CAVIAR-50G", 1, 99.0)),
                 ordered("sum", ("MILK-1L", 2, 1.15), total=2.31), ordered("usd", currency="USD"),
                 {**ordered("empty"), "items": []}, kept, refused):
        device.send("orders", sent)
    answers(status, 9)
    clock.now += 60
    device.send("cancel", cancel("undone"))
    device.send("cancel", cancel("undone"))
    device.send("cancel", cancel("refused"))
    answers(status, 12)
    clock.now += 61
    device.send("cancel", cancel("kept"))
    device.send("cancel", cancel("never-ordered"))
    device.send("cancel", cancel("kept", device_id="hall-02"), device_id="hall-02")
    device.send("cancel", cancel("late"))
    device.send("orders", ordered("late"))
    device.send("orders", ordered("late"))
    answers(status, 18)
    per_device: dict[str, list[dict]] = {}
    for topic, answer in status.messages:
        per_device.setdefault(topic.split("/")[3], []).append(answer)
    return per_device


def test_postgresql_gives_the_same_answers_and_rows_as_sqlite(mosquitto, database, tmp_path, catalogue,
                                                              subscriber):
    results = {}
    for name, db in (("sqlite", tmp_path / "store.db"), ("postgresql", database)):
        topic = subscriber(mosquitto.port, STATUS, "reorder/v1/devices/hall-02/order-status")
        clock = Clock()
        clock.now = 1_790_000_000.0
        device = Device(mosquitto.port)
        try:
            # No client id: a clean session, which leaves no offline session behind to take a share of orders.
            with StoreBackend(mosquitto.url, db, catalogue=catalogue, clock=clock) as store:
                got = conversation(store, device, topic, clock)
                book = {oid: store.order(oid) for oid in ("kept", "undone", "refused", "caviar", "late", "empty")}
                results[name] = (got, book, store.counts())
        finally:
            device.close()
        topic.close()
    sqlite, postgresql = results["sqlite"], results["postgresql"]
    assert postgresql == sqlite
    got, book, counts = postgresql
    assert [(a["order_id"], a["status"], a.get("reason")) for a in got["hall-02"]] == [
        ("kept", "rejected", "unknown-order")]
    assert [(a["order_id"], a["status"], a.get("reason"), a.get("original_status")) for a in got[DEVICE]] == [
        ("kept", "accepted", None, None), ("undone", "accepted", None, None),
        ("refused", "rejected", "price-mismatch", None), ("caviar", "rejected", "not-in-catalog", None),
        ("sum", "rejected", "total-mismatch", None), ("usd", "rejected", "currency-mismatch", None),
        ("empty", "rejected", "invalid-order", None),
        ("kept", "duplicate", None, "accepted"), ("refused", "duplicate", "price-mismatch", "rejected"),
        ("undone", "cancelled", None, None), ("undone", "cancelled", None, None),
        ("refused", "rejected", "price-mismatch", None),
        ("kept", "rejected", "too-late", None), ("never-ordered", "rejected", "unknown-order", None),
        ("late", "rejected", "unknown-order", None),
        ("late", "cancelled", None, None), ("late", "duplicate", None, "cancelled"),
    ]
    assert book["empty"] is None and book["kept"]["applied_at"] == "2026-09-21T14:13:20.000+00:00"
    assert json.loads(book["undone"]["payload"])["items"][0]["sku"] == "COFFEE-500G"
    assert counts == {"accepted": 1, "cancelled": 2, "rejected": 4}


@pytest.mark.parametrize("book", ["sqlite", "postgresql"])
def test_an_order_id_postgresql_cannot_hold_is_rejected_on_both_books(mosquitto, database, tmp_path, catalogue,
                                                                      subscriber, device, book):
    status = subscriber(mosquitto.port, STATUS)
    with StoreBackend(mosquitto.url, database if book == "postgresql" else tmp_path / "store.db",
                      catalogue=catalogue) as store:
        device.send("orders", order(order_id="nul\x00id"))
        device.send("cancel", cancel("nul\x00id"))
        good = order()
        device.send("orders", good)
        got = answers(status, 2)
        assert store.counts() == {"accepted": 1}
    assert [(a["order_id"], a["status"], a.get("reason")) for a in got] == [
        ("nul\x00id", "rejected", "invalid-order"), (good["order_id"], "accepted", None)]


class Fleet:
    """Devices (paho clients) sending orders, each twice in a row, from one thread per device."""

    def __init__(self, port: int, devices: int, orders: int) -> None:
        self.devices = [Device(port, f"fleet-{n}") for n in range(devices)]
        self.sent = [order(("PASTA-500G", 1 + i % 5, 1.29), device_id=f"fleet-{i % devices}") for i in range(orders)]
        self.progress = 0
        self._lock = threading.Lock()

    def send_all(self) -> None:
        """Send every order twice, the devices in parallel; returns when the broker acknowledged all."""
        def run(device: Device) -> None:
            for payload in self.sent:
                if payload["device_id"] == device.device_id:
                    for _ in range(2):
                        device.send("orders", payload)
                    with self._lock:
                        self.progress += 1

        threads = [threading.Thread(target=run, args=(d,)) for d in self.devices]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)

    def check(self, got: list[tuple[str, dict]], url: str) -> None:
        """Each order applied once (one accepted, one duplicate), every device answered, none lost."""
        assert len(got) == 2 * len(self.sent), f"{len(got)} answers for {2 * len(self.sent)} deliveries"
        by_order = Counter((a["order_id"], a["status"]) for _, a in got)
        for payload in self.sent:
            assert (by_order[(payload["order_id"], "accepted")], by_order[(payload["order_id"], "duplicate")]) == (1, 1)
        per_device = Counter(topic.split("/")[3] for topic, _ in got)
        assert per_device == Counter({d.device_id: 2 * len(self.sent) // len(self.devices) for d in self.devices})
        in_book = rows(url)
        assert len(in_book) == len({r[0] for r in in_book}) == len(self.sent)
        assert {r[0] for r in in_book} == {p["order_id"] for p in self.sent}
        assert {r[2] for r in in_book} == {"accepted"}

    def close(self) -> None:
        for one in self.devices:
            one.close()


def test_two_instances_on_one_database_apply_1000_orders_sent_twice_once_each(broker, database, catalogue,
                                                                             subscriber):
    mosquitto = broker
    status = subscriber(mosquitto.port, EVERY_STATUS)
    handled: Counter[str] = Counter()
    lock = threading.Lock()

    def counting(name: str):
        def hook(request: dict, answer: dict) -> None:
            with lock:
                handled[name] += 1
        return hook

    stores = [StoreBackend(mosquitto.url, database, catalogue=catalogue, client_id=f"store-{n}",
                           watch_state=False, on_order=counting(n)).start() for n in ("a", "b")]
    fleet = Fleet(mosquitto.port, devices=5, orders=1000)
    try:
        fleet.send_all()
        got = status.wait_for(2000, timeout=60)
    finally:
        fleet.close()
        for store in stores:
            store.stop()
    fleet.check(got, database)
    assert handled["a"] > 100 and handled["b"] > 100 and handled["a"] + handled["b"] == 2000


def store_process(log: Path, *args: str) -> subprocess.Popen:
    """`reorder store-backend ARGS` with its log (a line per order) in a file, not a pipe that fills."""
    code = "import sys; from device.store.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=log.open("w"))


def test_a_postgresql_restart_in_the_middle_loses_nothing_and_applies_nothing_twice(
        broker, postgres, database, catalog_path, subscriber, tmp_path):
    """Two `reorder store-backend --db postgresql://...` processes; the server crashes and restarts mid-stream."""
    mosquitto = broker
    logs = [tmp_path / f"store-{n}.log" for n in range(2)]
    catalogs = subscriber(mosquitto.port, "reorder/v1/devices/+/catalog")
    procs = [store_process(logs[n], "--broker", mosquitto.url, "--db", database, "--catalog", str(catalog_path),
                           "--client-id", f"store-cli-{n}", "--publish-catalog", f"ready-{n}") for n in range(2)]
    status = subscriber(mosquitto.port, EVERY_STATUS)
    fleet = Fleet(mosquitto.port, devices=4, orders=400)
    try:
        assert len(catalogs.wait_for(2, timeout=20)) >= 2, "the store processes did not start"  # both subscribed
        sender = threading.Thread(target=fleet.send_all)
        sender.start()
        while fleet.progress < 100 and sender.is_alive():
            time.sleep(0.005)
        answered_before = len(status.messages)
        postgres.restart("immediate")  # SIGQUIT to every server process: transactions in flight are cut
        sender.join(120)
        got = status.wait_for(800, timeout=60)
    finally:
        fleet.close()
        for proc in procs:
            proc.terminate()
            proc.wait(15)
    errs = [log.read_text() for log in logs]
    assert answered_before < 700, "the restart came after the stream: nothing was tested"
    fleet.check(got, database)
    assert any("retrying" in err for err in errs), errs  # at least one instance lost its connection
    assert all("Traceback" not in err for err in errs), errs


def test_an_order_that_could_not_be_stored_is_not_acknowledged_until_it_is(mosquitto, postgres, database,
                                                                          catalogue, subscriber, device):
    status = subscriber(mosquitto.port, STATUS)
    with StoreBackend(mosquitto.url, database, catalogue=catalogue, client_id="store-outage") as store:
        before = order()
        device.send("orders", before)
        assert answers(status, 1)[0]["status"] == "accepted"
        postgres.stop("fast")
        try:
            during = [order() for _ in range(5)]
            for sent in during:
                device.send("orders", sent)  # the broker has them; the store cannot store them
            time.sleep(1.0)
            assert len(status.messages) == 1
        finally:
            store.stop()  # gives up waiting for the database: nothing acknowledged
            postgres.start()
    with StoreBackend(mosquitto.url, database, catalogue=catalogue, client_id="store-outage") as store:
        got = answers(status, 6, timeout=20)[1:]
        assert store.counts() == {"accepted": 6}
    assert sorted(a["order_id"] for a in got) == sorted(o["order_id"] for o in during)
    assert {a["status"] for a in got} == {"accepted"}


def test_cli_refuses_an_unreachable_database_in_one_line_without_its_password(mosquitto, tmp_path):
    url = f"postgresql://store:s3cret@127.0.0.1:{free_port()}/orders"
    proc = _cli("--broker", mosquitto.url, "--db", url, cwd=tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.count("\n") == 1, err
    assert "order database postgresql://store:***@127.0.0.1:" in err and "check --db" in err, err
    assert "s3cret" not in err


def test_cli_without_psycopg_names_the_store_extra_in_one_line(tmp_path):
    code = ("import sys; sys.modules['psycopg'] = None; from device.store.cli import main;"
            " sys.exit(main(sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", code, "--db", "postgresql://store:s3cret@127.0.0.1:1/orders"],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "needs the [store] extra" in done.stderr, done.stderr
    assert "s3cret" not in done.stderr


@pytest.mark.parametrize("workers", ["0", "65"])
def test_cli_refuses_a_wrong_number_of_workers_in_one_line(tmp_path, workers):
    proc = _cli("--db", "x.db", "--workers", workers, cwd=tmp_path)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.count("\n") == 1 and f"--workers must be 1 to 64 (got {workers})" in err, err


def test_broker_connection_cut_while_workers_hold_orders_loses_nothing(broker, database, catalogue, subscriber):
    """The store's MQTT connection cut (TCP proxy) three times while its 4 workers are busy."""
    status = subscriber(broker.port, EVERY_STATUS)
    proxy = TcpProxy(broker.port, seed=18).start()
    handled: list[dict] = []
    store = StoreBackend(proxy.url, database, catalogue=catalogue, client_id="store-cut", watch_state=False,
                         on_order=lambda request, answer: handled.append(answer)).start()
    fleet = Fleet(broker.port, devices=4, orders=300)
    try:
        def cut_along_the_way() -> None:
            for when in (100, 250, 400):  # of the 600 deliveries
                while len(handled) < when and time.monotonic() < deadline:
                    time.sleep(0.002)
                proxy.cut()

        deadline = time.monotonic() + 60
        cutter = threading.Thread(target=cut_along_the_way)
        cutter.start()
        fleet.send_all()
        cutter.join(60)
        ids = {p["order_id"] for p in fleet.sent}
        while time.monotonic() < deadline:
            accepted = {a["order_id"] for _, a in list(status.messages) if a["status"] == "accepted"}
            if accepted >= ids:
                break
            time.sleep(0.1)
    finally:
        store.stop()
        proxy.close()
        fleet.close()
    assert proxy.cuts == 3
    # Every order answered `accepted` on its device's topic (QoS 1: an answer in flight during a cut
    # may arrive twice), and applied once: the store answered `accepted` once per order.
    assert {a["order_id"] for _, a in status.messages if a["status"] == "accepted"} == ids
    applied = Counter(a["order_id"] for a in handled if a["status"] != "duplicate")
    assert set(applied) == ids and set(applied.values()) == {1}
    assert {a["status"] for a in handled} == {"accepted", "duplicate"}
    assert len(handled) > 600, "no order was delivered again: the cuts came too late to test anything"
    in_book = rows(database)
    assert len(in_book) == 300 and {r[0] for r in in_book} == ids


class CommitCutter(list):
    """A TcpProxy capture that, on chosen COMMITs, holds the server's reply and cuts the connection."""

    def __init__(self, proxy: TcpProxy, every: int) -> None:
        super().__init__()
        self.proxy, self.every, self.commits, self.cut = proxy, every, 0, 0

    def append(self, chunk: tuple[int, str, bytes]) -> None:
        _, direction, data = chunk
        if direction == "up" and b"COMMIT" in data:
            self.commits += 1
            if self.commits % self.every == 0:
                self.cut += 1
                self.proxy.hold()  # this COMMIT still goes up; the reply waits, then dies with the connection
                threading.Timer(0.2, lambda: (self.proxy.cut(reset=True), self.proxy.release())).start()


def test_an_order_whose_commit_reply_was_lost_is_reported_applied_once(postgres, database, caplog):
    from device.store.pg import PostgresBook

    proxy = TcpProxy(postgres.port).start()
    book = PostgresBook(database.replace(f":{postgres.port}/", f":{proxy.port}/"))
    proxy.capture = cutter = CommitCutter(proxy, every=3)
    now = datetime.now(UTC)
    try:
        with caplog.at_level(logging.INFO, logger="device.store.pg"):
            recorded = [book.record_order(f"cut-{n}", DEVICE, "{}", "accepted", None, now) for n in range(12)]
    finally:
        book.close()
        proxy.close()
    assert cutter.cut >= 4
    assert [r.applied for r in recorded] == [True] * 12  # not one answered as its own duplicate
    assert len(rows(database)) == 12
    assert caplog.text.count("the commit went through before the connection was lost") == cutter.cut


def test_two_instances_starting_together_create_the_tables_once(database, catalogue, mosquitto):
    made: list[object] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            made.append(StoreBackend(mosquitto.url, database, catalogue=catalogue))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for store in made:
        store.stop()
    assert not errors and len(made) == 4
    assert rows(database) == []
