"""Store throughput on PostgreSQL: orders/s end to end and order -> answer latency; writes its BENCHMARKS.md section.

PostgreSQL (fsync on), Mosquitto, `reorder store-backend` processes and devices (tests/delivery_harness.py), all
real and on this machine (~3 min for 1 and 2 store instances); BENCHMARKS.md says what each run does.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bench.common import ROOT, code_version, command, logger, machine, now, percentile, table, write_section
from device.contract.catalogue import Catalogue
from device.events import Status
from tests.delivery_harness import Pump, random_order
from tests.support import Mosquitto, Postgres, Subscriber

CATALOG = ROOT / "device" / "samples" / "catalog.json"
BROKER_CONFIG = "autosave_on_changes false\nautosave_interval 60\nmax_queued_messages 100000\n"
"""A fleet's broker: persistence saved every minute (the tests' broker saves after every message)."""
EVERY_CHANGE = "server side, broker saves on every change"
"""The extra run: firmware_config/mosquitto/reorder.conf's household setting (autosave_interval 1) at fleet rates."""
RUNS = {"saturated": "saturated", "paced": "paced", "server-side": "server side", "every-change": EVERY_CHANGE}
EVERY_CHANGE_CONFIG = "autosave_on_changes true\nautosave_interval 1\nmax_queued_messages 100000\n"
CPU_PARTS = ("devices", "broker", "stores", "postgresql")
WARM_UP = 2.0
"""Seconds at the start of a run left out of the throughput (connections, first catalogues)."""
log = logger("bench store")


# -- a device process: several devices ------------------------------------------------------------
class LightDevice(Subscriber):
    """A paho client publishing ready-made orders at QoS 1 (no outbox, no loop): loads only the server side."""

    connected = True  # a Subscriber is connected and subscribed when it exists

    def __init__(self, port: int, device_id: str, on_status: Callable[[str, str], None]) -> None:
        self.device_id, self.catalogue, self.on_status = device_id, Catalogue.load(CATALOG), on_status
        super().__init__(port, f"reorder/v1/devices/{device_id}/order-status")

    def _on_message(self, client, userdata, msg) -> None:
        answer = json.loads(msg.payload)
        self.on_status(answer["order_id"], answer["status"])

    def submit(self, count: int = 1) -> list[str]:
        order = random_order(self.catalogue, self.device_id)
        self.client.publish(f"reorder/v1/devices/{self.device_id}/orders", json.dumps(order), qos=1)
        return [order["order_id"]]


def devices_main(a: dict) -> int:
    """Run a["devices"] devices; print one JSON line: the CPU time, and [order_id, device_id, on_disk, answered,
    status] per order."""
    answered: dict[str, tuple[float, str]] = {}
    ids = [f"{a['prefix']}-{n}" for n in range(a["devices"])]
    waiting: dict[str, set[str]] = {device: set() for device in ids}  # device -> its orders without an answer yet
    cond = threading.Condition()

    def on_status(order_id: str, status: str) -> None:
        with cond:
            answered.setdefault(order_id, (time.monotonic(), status))
            for pending in waiting.values():
                pending.discard(order_id)
            cond.notify_all()

    if a["light"]:
        pumps: list = [LightDevice(int(a["broker"].rsplit(":", 1)[1]), device, on_status) for device in ids]
    else:
        pumps = [Pump(a["broker"], Path(a["workdir"]) / f"{device}.sqlite3", device,
                      on_event=lambda e: on_status(e.order_id, e.status) if isinstance(e, Status) else None)
                 for device in ids]
    deadline = time.monotonic() + 30
    while not all(pump.connected for pump in pumps) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not all(pump.connected for pump in pumps):
        print(f"{[p.device_id for p in pumps if not p.connected]} did not connect", file=sys.stderr)
        return 3
    submitted: list[tuple[str, str, float]] = []
    start, every = a["start_at"], a["devices_total"] / a["rate"] if a["rate"] else 0.0
    time.sleep(max(0.0, start - time.monotonic()))
    stop_at = start + a["seconds"]
    cpu_at_start = time.process_time()

    def run(pump, phase: float) -> None:
        next_at = start + phase * every
        while (now := time.monotonic()) < stop_at:
            if a["rate"]:
                if now < next_at:
                    time.sleep(min(next_at - now, 0.05))
                    continue
                next_at += every
            else:
                with cond:
                    if len(waiting[pump.device_id]) >= a["window"]:
                        cond.wait(0.05)
                        continue
            [order_id] = pump.submit(1)
            with cond:
                submitted.append((pump.device_id, order_id, time.monotonic()))
                if order_id not in answered:
                    waiting[pump.device_id].add(order_id)

    threads = [threading.Thread(target=run, args=(pump, n / len(pumps)), daemon=True) for n, pump in enumerate(pumps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with cond:
        cond.wait_for(lambda: all(o in answered for _, o, _ in submitted), timeout=a["drain"])
        rows = [[o, d, t, *answered.get(o, (None, None))] for d, o, t in submitted]
    cpu = time.process_time() - cpu_at_start
    for pump in pumps:
        pump.close()
    print(json.dumps({"rows": rows, "cpu": cpu}))
    return 0


# -- the benchmark ------------------------------------------------------------------------------
def store_process(broker: str, db: str, client_id: str, ready: str, logfile: Path) -> subprocess.Popen:
    """One `reorder store-backend` instance with its default --workers (its log in a file)."""
    code = "import sys; from device.store.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, "--broker", broker, "--db", db, "--catalog", str(CATALOG),
                             "--client-id", client_id, "--publish-catalog", ready],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL,
                            stderr=logfile.open("w"))


def one_run(a: argparse.Namespace, pg: Postgres, instances: int, mode: str, workdir: Path) -> dict:
    """A broker and database of its own, `instances` stores, the devices for one run; stop everything; the figures."""
    import psycopg

    name = f"bench_{instances}_{''.join(c if c.isalnum() else '_' for c in mode)}"
    run_dir, load = workdir / name, os.getloadavg()[0]
    with psycopg.connect(pg.url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    db = pg.url_of(name)
    with contextlib.ExitStack() as stack:  # stopped in reverse: answers, stores, ready, outboxes, broker
        # A broker of its own: the stores' sessions of an earlier run, offline but still in the
        # shared subscription, would each be handed a share of this run's orders.
        broker = Mosquitto(run_dir / "mosquitto",
                           extra_config=EVERY_CHANGE_CONFIG if mode == EVERY_CHANGE else BROKER_CONFIG).start()
        stack.callback(broker.stop)
        outboxes = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=a.outbox_dir))
        stack.callback(shutil.rmtree, outboxes, ignore_errors=True)
        ready = stack.enter_context(contextlib.closing(Subscriber(broker.port, "reorder/v1/devices/+/catalog")))
        stores = [store_process(broker.url, db, f"bench-{name}-{n}", f"ready-{name}-{n}", run_dir / f"store-{n}.log")
                  for n in range(instances)]
        stack.callback(stop, stores)
        answers = stack.enter_context(contextlib.closing(Subscriber(broker.port, "reorder/v1/devices/+/order-status")))
        deadline = time.monotonic() + 30
        while len({t for t, _ in ready.wait_for(1, 1.0) if f"/ready-{name}-" in t}) < instances:
            if time.monotonic() > deadline:
                raise RuntimeError(f"store instances did not start: see {run_dir}")
        start_at = time.monotonic() + 3.0 + 0.5 * a.device_processes  # every device connected by then
        per_process = a.devices // a.device_processes
        spec = {"broker": broker.url, "workdir": str(outboxes), "devices": per_process,
                "devices_total": per_process * a.device_processes, "seconds": a.seconds, "start_at": start_at,
                "drain": 60.0, "rate": a.rate if mode == "paced" else 0, "window": a.window,
                "light": mode.startswith("server side")}
        children = [subprocess.Popen([sys.executable, "-m", "bench.store", "--devices-child",
                                      json.dumps({**spec, "prefix": f"dev{n}"})], stdout=subprocess.PIPE, text=True,
                                     cwd=ROOT) for n in range(a.device_processes)]
        time.sleep(max(0.0, start_at - time.monotonic()))
        servers = {"broker": [broker.process.pid] if broker.process else [], "stores": [s.pid for s in stores],
                   "postgresql": pg.pids()}
        cpu_before = {part: cpu_seconds(pids) for part, pids in servers.items()}
        outputs = [json.loads(child.communicate(timeout=a.seconds + 120)[0]) for child in children]
        servers["postgresql"] = pg.pids()  # the stores' connections are still open
        cpu = {part: cpu_seconds(pids) - cpu_before[part] for part, pids in servers.items()}
        cpu["devices"] = sum(out["cpu"] for out in outputs)
        if any(child.returncode for child in children):
            raise RuntimeError(f"a device process failed: {[c.returncode for c in children]}")
        time.sleep(1.0)  # the answers' copies to our subscriber
        statuses = Counter((p["order_id"], p["status"]) for _, p in answers.messages)
    rows = [row for out in outputs for row in out["rows"]]
    with psycopg.connect(db) as conn:
        in_book = {r[0] for r in conn.execute("SELECT order_id FROM orders")}
    sent = {r[0] for r in rows}
    done = [r for r in rows if r[3] is not None]
    window = [r for r in done if r[2] >= start_at + WARM_UP]
    steady = [r for r in window if r[3] <= start_at + a.seconds]
    latencies = sorted(r[3] - r[2] for r in window)
    return {
        "instances": instances, "mode": mode, "orders": len(rows), "load": load,
        "offered": len([r for r in rows if r[2] >= start_at + WARM_UP]) / (a.seconds - WARM_UP),
        "answered_per_s": len(steady) / (a.seconds - WARM_UP),
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "max": latencies[-1] if latencies else None,
        "lost": len(sent - in_book), "unanswered": len(rows) - len(done),
        "twice": sum(1 for o in sent if statuses[(o, "accepted")] + statuses[(o, "rejected")] > 1),
        "cpu_ms": {part: 1000 * used / max(1, len(done)) for part, used in cpu.items()},
    }


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM every process, then wait for each."""
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.wait(30)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds these processes used so far (from /proc; one that has ended counts none)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_text(r: dict) -> str:
    return " / ".join(f"{r['cpu_ms'][part]:.1f}" for part in CPU_PARTS)


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value * 1000:.0f}"


def section(a: argparse.Namespace, results: list[dict], shown: str, took: float, pg_bin: Path) -> str:
    versions = machine("paho-mqtt", "psycopg", tools=[("mosquitto", "-h"), (str(pg_bin / "postgres"), "--version")])
    lines = [
        "## Store backend on PostgreSQL: throughput end to end", "",
        f"Measured {now()} by `{shown}` ({took / 60:.1f} min) on the code at {code_version()}."
        f" Machine: {versions}."
        f" Load average at the end: {os.getloadavg()[0]:.1f} (other work shares these cores).", "",
        f"{a.devices} devices (the device's delivery stack: Outbox with an fsync per order, Delivery, MqttLink;"
        f" in {a.device_processes} process{'es' if a.device_processes > 1 else ''})"
        " -> Mosquitto (persistence saved every 60 s) -> N"
        " `reorder store-backend --db postgresql://...` processes on the shared subscription -> one PostgreSQL"
        " database (fsync on, one transaction per order) -> the answer back on each device's `order-status`."
        f" Each run lasts {a.seconds:g} s; the first {WARM_UP:g} s are left out. *Saturated*: every device keeps"
        f" {a.window} orders waiting for their answer. *Paced*: the devices together offer {a.rate:g} orders/s."
        f" *Server side*: saturated again, but the {a.devices} devices are bare paho clients publishing ready-made"
        " orders at QoS 1 (no outbox, no loop), so the devices' cost, which a real fleet spreads over its own"
        " computers, leaves these two cores to the broker, the stores and PostgreSQL.", "",
        *table("instances | run | offered (orders/s) | answered (orders/s) | latency p50 / p95 / max (ms) | orders"
               " | lost | applied twice | unanswered | CPU per order: devices / broker / stores / PostgreSQL (ms)"
               " | load",
               ([r["instances"], r["mode"], f"{r['offered']:.0f}", f"**{r['answered_per_s']:.0f}**",
                 f"{ms(r['p50'])} / {ms(r['p95'])} / {ms(r['max'])}", r["orders"], r["lost"], r["twice"],
                 r["unanswered"], cpu_text(r), f"{r['load']:.1f}"] for r in results)),
    ]
    two = {r["mode"]: r["answered_per_s"] for r in results
           if r["instances"] == 2 and r["mode"] in ("saturated", "server side")}  # paced: capped by the offer
    if two:
        best = max(two.values())
        lines += ["", "Target: >= 200 orders/s sustained with 2 instances — "
                  + ", ".join(f"{rate:.0f} orders/s {mode}" for mode, rate in two.items())
                  + f" ({'met' if best >= 200 else 'NOT met'})."
                  f" At one order per household per day (~0.01 orders/s per thousand households), {best:.0f} orders/s"
                  f" is the average rate of about {best * 100_000 / 1e6:.0f} million households; sized for an evening"
                  f" peak ten times the average, about {best * 10_000 / 1e6:.1f} million."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", default="1,2", help="store instance counts to run, comma-separated")
    parser.add_argument("--devices", type=int, default=8, help="devices in all")
    parser.add_argument("--device-processes", type=int, default=2, help="processes the devices are spread over")
    parser.add_argument("--window", type=int, default=8, help="orders each device keeps unanswered (saturated)")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"which runs, comma-separated (default: all"
                        f" of {', '.join(RUNS)}; every-change only with the most instances)")
    parser.add_argument("--rate", type=float, default=100.0, help="orders/s offered in the paced run (0: none)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--outbox-dir", default="/dev/shm" if Path("/dev/shm").is_dir() else None,
                        help="where the devices' outboxes go (default /dev/shm: each real device has its own disk,"
                        " so their fsyncs must not queue behind PostgreSQL's on this one)")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="file to write the section into")
    parser.add_argument("--devices-child", metavar="JSON", help=argparse.SUPPRESS)  # a device process of a run
    a = parser.parse_args(argv)
    if a.devices_child:
        return devices_main(json.loads(a.devices_child))
    wanted, counts = a.runs.split(","), [int(n) for n in a.instances.split(",")]
    if set(wanted) - set(RUNS) or (not a.rate and "paced" in wanted):
        parser.error(f"--runs takes {', '.join(RUNS)} (paced needs --rate above 0); got {a.runs}")
    began, results = time.monotonic(), []
    workdir = Path(tempfile.mkdtemp(prefix="bench-store-"))
    pg = Postgres(fsync=True).start()
    try:
        for instances in counts:
            for mode in [RUNS[run] for run in wanted if run != "every-change" or instances == max(counts)]:
                log(f"{instances} instance(s), {mode}")
                r = one_run(a, pg, instances, mode, workdir)
                log(f"  {r['answered_per_s']:.0f} orders/s answered (offered {r['offered']:.0f}), p95"
                    f" {ms(r['p95'])} ms, lost {r['lost']}, twice {r['twice']}, unanswered {r['unanswered']},"
                    f" CPU ms/order {cpu_text(r)}")
                results.append(r)
    finally:
        pg.remove()
    text = section(a, results, command("store", argv), time.monotonic() - began, pg.bin)
    print(text)
    write_section("store", text, Path(a.output))
    return 1 if any(r["lost"] or r["twice"] or r["unanswered"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
