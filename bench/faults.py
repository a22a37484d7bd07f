"""Fault cycles for order delivery: lost / applied twice / time to drain; writes its section of BENCHMARKS.md.

Lanes of Mosquitto, the reference store, a TCP proxy and the device's delivery stack (tests/delivery_harness.py) each
confirm a few orders around one fault per cycle; then a backlog queued while the broker is down, and
tests/test_payload_fuzz.py seeded with --seed. Exit status 1 when anything was lost or duplicated, or an invariant
failed.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ROOT, code_version, command, logger, machine, now, percentile, table, write_section
from tests.delivery_harness import Pump, Store, outbox_rows
from tests.support import Mosquitto
from tests.tcp_proxy import TcpProxy

KINDS = {
    "broker-stop": "broker stopped (SIGTERM) while orders are confirmed, then started",
    "broker-kill": "broker SIGKILLed in the middle of a stream, then started",
    "network-cut": "device connection cut at random moments (TCP proxy, RST or FIN)",
    "device-kill": "device process SIGKILLed in the middle of a stream, then started",
}
FULL = {"cycles": 1000, "backlog": 1000, "backlog_runs": 3, "fuzz_examples": 3000}
SHORT = {"cycles": 24, "backlog": 200, "backlog_runs": 1, "fuzz_examples": 25}
WAIT = 60.0
"""Longest wait for a cycle to drain or be applied before it counts as stuck."""
log = logger("fault-cycle")


@dataclass
class Cycle:
    """One fault; drain and accepted are seconds from the recovery (broker started, last cut, device started) to
    every order PUBACKed and applied (None: stuck); `counts` (lost, duplicated, resent) are filled at the end."""

    kind: str
    orders: list[str]
    drain: float | None
    accepted: float | None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Lane:
    """One broker, store, proxy and device; runs cycles one after another."""

    number: int
    workdir: Path
    rng: random.Random
    cycles: list[Cycle] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.broker = Mosquitto(self.workdir / "mosquitto").start()
        self.proxy = TcpProxy(self.broker.port, seed=self.rng.randrange(2**32)).start()
        self.store = Store(self.broker.url, self.workdir / "store.db", client_id=f"store-lane-{self.number}").start()
        self.outbox = self.workdir / "outbox.sqlite3"
        self.device_id = f"pump-{self.number}"
        self.pump = self._pump()

    def _pump(self) -> Pump:
        pump = Pump(self.proxy.url, self.outbox, self.device_id)
        if not pump.wait(lambda: pump.connected, 30):
            self.failures.append(f"lane {self.number}: the device did not connect within 30 s")
        return pump

    def close(self) -> None:
        for close in (self.pump.close, self.store.stop, self.proxy.close):
            try:
                close()
            except Exception as exc:  # closing the rest matters more
                log(f"lane {self.number}: {close.__qualname__} failed: {exc}")
        self.broker.stop(kill=True)

    # -- the faults: each returns when the fault is over (the moment recovery starts) ----------------
    def _stream(self, count: int) -> threading.Thread:
        def run() -> None:
            for _ in range(count):
                self.pump.submit(1)
                time.sleep(self.rng.uniform(0.0, 0.02))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def broker_stop(self) -> float:
        self.broker.stop()
        self.pump.wait(lambda: not self.pump.connected, 5)
        self.pump.submit(self.rng.randint(1, 3))
        time.sleep(self.rng.uniform(0.0, 0.3))
        self.broker.start()
        return time.monotonic()

    def broker_kill(self) -> float:
        thread = self._stream(self.rng.randint(5, 15))
        time.sleep(self.rng.uniform(0.0, 0.15))
        self.broker.stop(kill=True)
        time.sleep(self.rng.uniform(0.0, 0.3))
        thread.join(timeout=WAIT)
        self.broker.start()
        return time.monotonic()

    def network_cut(self) -> float:
        thread = self._stream(self.rng.randint(5, 15))
        for _ in range(self.rng.randint(1, 2)):
            time.sleep(self.rng.uniform(0.0, 0.2))
            self.proxy.cut()
        last = time.monotonic()
        thread.join(timeout=WAIT)
        return last

    def device_kill(self) -> tuple[float, float | None]:
        self.pump.close()
        harness = [sys.executable, "-m", "tests.delivery_harness", "--broker", self.proxy.url, "--outbox",
                   str(self.outbox), "--device-id", self.device_id]
        process = subprocess.Popen([*harness, "--count", str(self.rng.randint(5, 15)), "--gap", "0.01"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        watchdog = threading.Timer(WAIT, process.kill)  # bounds the read below
        watchdog.start()
        try:
            first = process.stdout.readline() if process.stdout else ""  # blocks until an order is on disk
            if not first.startswith("queued"):
                self.failures.append(f"lane {self.number}: device process printed {first!r} instead of queued")
            time.sleep(self.rng.uniform(0.0, 0.3))
        finally:
            watchdog.cancel()
            process.kill()  # SIGKILL; nothing if it already ended
            process.wait(timeout=10)
        restarted = time.monotonic()
        done = subprocess.run([*harness, "--timeout", str(WAIT)], capture_output=True, text=True, timeout=WAIT + 30,
                              cwd=ROOT)
        drained = time.monotonic() - restarted if done.returncode == 0 else None
        self.pump = self._pump()
        return restarted, drained

    # -- one cycle -----------------------------------------------------------------------------------
    def cycle(self, kind: str) -> None:
        before = set(outbox_rows(self.outbox))
        drain: float | None
        if kind == "device-kill":
            recovered, drain = self.device_kill()
        else:
            recovered = getattr(self, kind.replace("-", "_"))()
            drain = time.monotonic() - recovered if self.pump.wait_drained(WAIT) else None
        orders = sorted(set(outbox_rows(self.outbox)) - before)
        accepted = time.monotonic() - recovered if self.store.wait_applied(orders, WAIT) else None
        if drain is None or accepted is None:
            self.failures.append(f"lane {self.number}: {kind} cycle {len(self.cycles)} stuck "
                                 f"(drained: {drain is not None}, applied: {accepted is not None})")
        self.cycles.append(Cycle(kind, orders, drain, accepted))

    def run(self, count: int) -> None:
        kinds = list(KINDS)
        for i in range(count):
            self.cycle(kinds[(i + self.number) % len(kinds)])
            if (i + 1) % 50 == 0:
                log(f"lane {self.number}: {i + 1}/{count} cycles")


def run_lanes(cycles: int, lanes: list[Lane], workdir: Path, seed: int, count: int) -> dict:
    """Run the cycles in `count` lanes, appended to `lanes` as soon as each exists (the caller closes them)."""
    for n in range(count):
        lanes.append(Lane(n, workdir / f"lane-{n}", random.Random(seed + n)))
    shares = [cycles // count + (1 if n < cycles % count else 0) for n in range(count)]
    started = time.monotonic()
    threads = [threading.Thread(target=lane.run, args=(share,), daemon=True) for lane, share in zip(lanes, shares)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # joined in slices, so Ctrl-C and SIGTERM get through
            thread.join(timeout=0.5)
    elapsed, unknown = time.monotonic() - started, 0
    for lane in lanes:
        lane.store.wait_applied([oid for c in lane.cycles for oid in c.orders], WAIT)  # stragglers of stuck cycles
        rows = outbox_rows(lane.outbox)
        applied, deliveries = lane.store.applied(), lane.store.deliveries()
        in_book = lane.store.in_book(rows)
        unknown += len(set(applied) - set(rows))
        for c in lane.cycles:
            c.counts = outcome(c.orders, in_book, applied, deliveries)
        unsent = [oid for oid, row in rows.items() if not row["sent_at"]]
        if unsent:
            lane.failures.append(f"lane {lane.number}: {len(unsent)} orders still unsent in the outbox")
        marked_not_applied = [oid for oid, row in rows.items() if row["sent_at"] and oid not in in_book]
        if marked_not_applied:
            lane.failures.append(f"lane {lane.number}: {len(marked_not_applied)} orders marked sent, not in the book")
    done = [c for lane in lanes for c in lane.cycles]
    return {"kinds": {kind: summed([c for c in done if c.kind == kind]) for kind in KINDS}, "all": summed(done),
            "unknown": unknown, "elapsed": elapsed, "reconnects": sum(lane.proxy.connections for lane in lanes)}


def outcome(ids: list[str], in_book: set[str], applied: Counter, deliveries: Counter) -> dict[str, int]:
    """Of these orders: lost (not in the order book), applied twice, and deliveries beyond the first."""
    return {"lost": sum(1 for oid in ids if oid not in in_book),
            "duplicated": sum(1 for oid in ids if applied[oid] > 1),
            "resent": sum(max(0, deliveries[oid] - 1) for oid in ids)}


def summed(cycles: list[Cycle]) -> dict:
    """These cycles' counts added up, and their drain and accepted times (stuck ones left out)."""
    return {"cycles": len(cycles), "orders": sum(len(c.orders) for c in cycles),
            **{key: sum(c.counts[key] for c in cycles) for key in ("lost", "duplicated", "resent")},
            "drain": [c.drain for c in cycles if c.drain is not None],
            "accepted": [c.accepted for c in cycles if c.accepted is not None]}


# -- the backlog -------------------------------------------------------------------------------------
def backlog(count: int, runs: int, workdir: Path) -> list[dict]:
    """Orders queued while the broker is down, `runs` times; from its start to reconnects, PUBACKs, `accepted`."""
    workdir.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(workdir / "mosquitto").start()
    store = Store(broker.url, workdir / "store.db", client_id="store-backlog").start()
    pump = Pump(broker.url, workdir / "outbox.sqlite3", "backlog-01")
    results: list[dict] = []
    try:
        pump.wait(lambda: pump.connected, 30)
        for run in range(runs):
            results.append(outage(broker, store, pump, count))
            log(f"backlog run {run + 1}: {results[-1]}")
    finally:
        pump.close()
        store.stop()
        broker.stop()
    return results


def outage(broker: Mosquitto, store: Store, pump: Pump, count: int) -> dict:
    """One backlog run: the broker stopped, `count` orders confirmed, the broker started; times from its start."""
    broker.stop()
    pump.wait(lambda: not pump.connected, 10)
    t = time.monotonic()
    ids = [oid for _ in range(count // 100) for oid in pump.submit(100)] + pump.submit(count % 100)
    queued, t0 = time.monotonic() - t, time.monotonic()
    broker.start()
    marks: dict[str, float] = {}

    def watch() -> None:
        while time.monotonic() < t0 + 120 and len(marks) < 2:
            if "device" not in marks and pump.connected:
                marks["device"] = time.monotonic() - t0
            if "store" not in marks and store.backend.session.connected:
                marks["store"] = time.monotonic() - t0
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    drained = time.monotonic() - t0 if pump.wait_drained(120) else None
    accepted = time.monotonic() - t0 if store.wait_applied(ids, 120) else None
    watcher.join(timeout=1)
    result = {"orders": len(ids), "queued": queued, "device": marks.get("device"), "store": marks.get("store"),
              "drained": drained, "accepted": accepted,
              **outcome(ids, store.in_book(ids), store.applied(), store.deliveries())}
    # Before the next outage the device hears the store's answers: without them it would publish
    # every unanswered order again on reconnecting (and rightly: the broker may have lost them).
    pump.wait(lambda: set(ids) <= set(pump.statuses()), 60)
    return result


# -- bad input ---------------------------------------------------------------------------------------
def fuzz(examples_per_test: int, workdir: Path, seed: int) -> dict:
    stats = workdir / "fuzz.json"
    env = {**os.environ, "REORDER_FUZZ_EXAMPLES": str(examples_per_test), "REORDER_FUZZ_STATS": str(stats)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rx",
                           f"--hypothesis-seed={seed}", "tests/test_payload_fuzz.py"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600)
    counts = json.loads(stats.read_text()) if stats.exists() else {}
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    xfails = list(dict.fromkeys(line.split(" - ", 1)[-1] for line in done.stdout.splitlines()
                                if line.startswith("XFAIL")))
    # the failing example, without the thousands of "ignored" log lines around it
    failure = "\n".join(line for line in done.stdout.splitlines() if not line.startswith(("WARNING", "INFO")))
    return {"ok": done.returncode == 0, "counts": counts, "summary": summary, "xfails": xfails,
            "seconds": time.monotonic() - started, "failure": "" if done.returncode == 0 else failure[-6000:]}


# -- the section -------------------------------------------------------------------------------------
def spread(values: list[float]) -> str:
    """Median / p95 / max, seconds."""
    if not values:
        return "–"
    return f"{statistics.median(values):.2f} / {percentile(values, 95):.2f} / {max(values):.2f}"


def seconds(value: float | None) -> str:
    return ("–" if value is None else f"{value:.2f}") + " s"


def section(args, report: dict, backlog_runs: list[dict], fuzzed: dict | None, failures: list[str]) -> str:
    """The faults section: the cycles' table, then the backlog's and the bad input's when they ran."""
    lines = [
        "## Delivery under faults: nothing lost, nothing applied twice", "",
        f"Measured {now()} by `{args.command}` ({'CI smoke run' if args.short else 'full run'},"
        f" {report['elapsed'] / 60:.1f} min of cycles in {args.lanes} lanes side by side) on the code at"
        f" {code_version()}.",
        f"Machine: {machine('paho-mqtt', tools=[('mosquitto', '-h')])}. Load average at the end:"
        f" {os.getloadavg()[0]:.1f}.", "",
        *table("fault | cycles | orders | lost | applied twice | re-sent | drain (s) | accepted (s)", (
            [what, k["cycles"], k["orders"], k["lost"], k["duplicated"], k["resent"], spread(k["drain"]),
             spread(k["accepted"])]
            for what, k in [*((KINDS[kind], report["kinds"][kind]) for kind in KINDS), ("**all**", report["all"])])),
        "", f"Orders the store applied that no device had on disk: {report['unknown']}. Device connections through"
        f" the proxies: {report['reconnects']}. Invariant failures (stuck cycles, unsent or unapplied orders at the"
        f" end): {len(failures)}{': ' + '; '.join(failures[:5]) if failures else ''}.",
    ]
    if backlog_runs:
        rows = [[i, f"{r['queued']:.1f} s", *(seconds(r[k]) for k in ("device", "store", "drained", "accepted")),
                 r["lost"], r["duplicated"], r["resent"]] for i, r in enumerate(backlog_runs, 1)]
        lines += [
            "", f"### Backlog: {backlog_runs[0]['orders']} orders queued while the broker is down", "",
            *table("run | queueing took | device reconnected | store re-subscribed | all PUBACKs | all accepted | lost"
                   " | applied twice | re-sent", rows),
        ]
        after = [r["drained"] - max(r["device"] or 0, r["store"] or 0) for r in backlog_runs
                 if r["drained"] is not None]
        within = sum(1 for r in backlog_runs if r["drained"] is not None and r["drained"] <= 5.0)
        lines += ["", f"Goal: drained within 5 s of the broker coming back — {within} of {len(backlog_runs)} runs"
                  f" ({'met' if within == len(backlog_runs) else '**not met**'}). Once both the device and the"
                  f" store are connected, the drain itself takes {spread(after)} s (median / p95 / max)."]
    if fuzzed:
        counts = fuzzed["counts"]
        lines += [
            "", f"### Bad input: {sum(counts.values()):,} generated payloads (hypothesis, tests/test_payload_fuzz.py)",
            "", *table("payloads | accepted | rejected / ignored out loud", (
                [what, *(f"{counts.get(key, 0):,}" for key in keys)] for what, *keys in (
                    ("catalogue", "catalogue accepted", "catalogue rejected"),
                    ("order-status", "status applied", "status ignored"),
                    ("bytes that are not a JSON object", "raw bytes accepted", "raw bytes ignored"),
                    ("config mappings", "config accepted", "config refused")))), "",
            f"Result: {fuzzed['summary']} ({fuzzed['seconds']:.0f} s). "
            + ("No crash, nothing lost." if fuzzed["ok"] else "**FAILED**: see the pytest output."),
        ]
        if fuzzed["xfails"]:
            lines += ["", "Found by these tests and pinned as strict xfails (bugs outside the delivery code):",
                      *(f"- {x}" for x in fuzzed["xfails"])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, help="fault cycles in all (default 1000; --short: 24)")
    parser.add_argument("--lanes", type=int, default=2, help="independent broker+store+device sets run side by side")
    parser.add_argument("--backlog", type=int, help="orders queued with the broker down (default 1000; --short: 200)")
    parser.add_argument("--backlog-runs", type=int, help="backlog runs (default 3; --short: 1)")
    parser.add_argument("--fuzz-examples", type=int, help="hypothesis examples per test (default 3000: over 10,000 "
                                                            "in all; --short: 25; 0 skips the run)")
    parser.add_argument("--short", action="store_true", help="the CI smoke run")
    parser.add_argument("--seed", type=int, default=random.randrange(2**31))
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="file to write the section into")
    args = parser.parse_args(argv)
    args.command = command("faults", argv)
    for key, value in (SHORT if args.short else FULL).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    # The faults make the device and the store warn on every cycle; only errors are worth showing.
    logging.basicConfig(level=logging.ERROR, format="%(name)s: %(message)s")
    log(f"seed {args.seed}: {args.cycles} cycles in {args.lanes} lanes, backlog {args.backlog} x {args.backlog_runs}, "
        f"{args.fuzz_examples} examples per fuzz test")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # ends the run like Ctrl-C: brokers stopped
    with tempfile.TemporaryDirectory(prefix="fault-cycle-") as tmp:
        workdir = Path(tmp)
        lanes: list[Lane] = []
        try:
            report = run_lanes(args.cycles, lanes, workdir, args.seed, args.lanes)
        finally:
            for lane in lanes:
                lane.close()
        failures = [f for lane in lanes for f in lane.failures]
        total = report["all"]
        log(f"cycles done in {report['elapsed']:.0f} s: {total['orders']} orders, lost {total['lost']}, duplicated "
            f"{total['duplicated']}, re-sent {total['resent']}, failures {len(failures)}")
        backlog_runs = backlog(args.backlog, args.backlog_runs, workdir / "backlog") if args.backlog else []
        fuzzed = fuzz(args.fuzz_examples, workdir, args.seed) if args.fuzz_examples else None
        if fuzzed:
            log(f"fuzz: {fuzzed['summary']}")
            if fuzzed["failure"]:
                print(fuzzed["failure"], file=sys.stderr)
    write_section("faults", section(args, report, backlog_runs, fuzzed, failures), Path(args.output))
    log(f"section written to {args.output}")
    bad = (total["lost"] or total["duplicated"] or report["unknown"] or failures
           or any(r["lost"] or r["duplicated"] for r in backlog_runs) or (fuzzed and not fuzzed["ok"]))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
