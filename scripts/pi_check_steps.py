"""pi-check's steps inside one root file system: provision, install, doctor, the replays, the switch to French.

Used by scripts/pi-check (see its docstring), with scripts/pi_check_box.py's root file system and helpers.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pi_check_box import (DEVICE_ID, EXPECTED, PAD_S, PRESS_AT, ROOT, ZERO_2W_MEMTOTAL_KB, CheckError, Chroot, capped,
                          judge_doctor, judge_replay, meminfo, pad_wav, run, without_section)


def free_port() -> int:
    """A free TCP port on the loopback (the chroot shares this machine's network)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def du_mb(path: Path) -> int:
    """Disk use of a file or folder in MB (as `du -sm`: blocks, not apparent sizes)."""
    done = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=False)
    return int(done.stdout.split()[0]) if done.returncode == 0 and done.stdout else 0


class Steps:
    """What pi-check does inside one root file system, in order; failures go to report["failed"]."""

    def __init__(self, box: Chroot, report: dict) -> None:
        self.box, self.report = box, report
        self.port = free_port()
        self.python = "/opt/reorder/venv/bin/python"
        self.install = ["bash", "/boot/firmware/reorder/src/scripts/install.sh", "--provisioning",
                        "/boot/firmware/reorder", "--no-start"]

    def say(self, ok: bool, what: str, detail: str) -> None:
        """One line per step; a failure is also recorded."""
        print(f"pi-check:   {'✓' if ok else '✗'} {what}: {detail}", flush=True)
        if not ok:
            self.report["failed"].append(f"{what}: {detail}")

    def imports(self, module: str) -> bool:
        return self.box.run(self.python, "-c", f"import {module}", what=f"import {module}").returncode == 0

    def provision(self, on_device: bool) -> None:
        """scripts/provision on this machine onto the root's /boot/firmware, as on the installer's laptop."""
        boot = self.box.root / "boot" / "firmware"
        boot.mkdir(parents=True, exist_ok=True)
        (boot / "cmdline.txt").write_text("console=serial0,115200 root=PARTUUID=00000000-02 rootfstype=ext4 rootwait\n")
        (boot / "config.txt").write_text("arm_64bit=1\n")
        venv = ROOT / ".venv" / "bin" / "python"
        cmd = [str(venv if venv.is_file() else sys.executable), str(ROOT / "scripts" / "provision"), str(boot),
               "--device-id", DEVICE_ID, "--broker", f"mqtt://127.0.0.1:{self.port}", "--locale", "en-US"]
        done = run([*cmd, *([] if on_device else ["--prepare-model"])], self.box.log, "provision", timeout=1800)
        if done.returncode != 0:
            raise CheckError(f"provision: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        # The device's default wake word, which the bundled samples say (provision writes openWakeWord's)
        config = boot / "reorder" / "device.toml"
        config.write_text(without_section(config.read_text(), "wake"))
        self.report["model_prepared"] = "on the device" if on_device else "by scripts/provision (this machine)"
        self.say(True, "provision", f"en-US boot partition written ({self.report['model_prepared']} for Moonshine)")

    def sizes(self, locale: str, models: Sequence[str]) -> None:
        """The installed size for this locale: the venv and the locale's model folders."""
        base = self.box.root / "opt" / "reorder"
        entry = {"venv": du_mb(base / "venv"), **{m: du_mb(base / "models" / m) for m in models}}
        entry["total"] = sum(entry.values())
        self.report["size_mb"][locale] = entry

    def install_en(self) -> None:
        """install.sh as the first boot runs it (systemd offline, the service not started)."""
        done = self.box.run(*self.install, what="install en-US", timeout=7200)
        self.report["install_seconds"] = {"en-US": self.box.log[-1]["seconds"]}
        if done.returncode != 0:
            raise CheckError(f"install.sh: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        prepared = self.box.root / "opt/reorder/models/moonshine-base-en/model.json"
        problems = [] if prepared.is_file() else ["no prepared Moonshine model"]
        if self.imports("ctranslate2"):
            problems.append("ctranslate2 installed on an en-US device")
        if "model_prepared" in self.report and "provision" in self.report["model_prepared"] \
                and "device-prepare.txt" in done.stdout:
            problems.append("onnx installed although the model came prepared")
        if not (self.box.root / "etc/systemd/system/reorder.service").is_file():
            problems.append("no systemd unit")
        self.sizes("en-US", [p.name for p in (self.box.root / "opt/reorder/models").iterdir()
                             if p.name.startswith("moonshine")])
        self.say(not problems, "install en-US", "; ".join(problems) or
                 f"{self.report['install_seconds']['en-US']:.0f} s, {self.report['size_mb']['en-US']['total']} MB")

    def doctor(self) -> None:
        """reorder doctor: fails on the missing hardware, one line each, and passes on the models."""
        done = self.box.run("/opt/reorder/venv/bin/reorder", "doctor", "--config", "/etc/reorder/device.toml",
                            what="doctor", timeout=1800)
        why = judge_doctor(done.stdout) or ("a traceback on stderr" if "Traceback" in done.stderr else None)
        fails = sum(1 for line in done.stdout.splitlines() if line.startswith(("✗", "FAIL")))
        self.report["doctor"] = done.stdout.strip().splitlines()
        self.say(why is None, "doctor", why or f"ran (exit {done.returncode}, {fails} lines to fix: no hardware here)")

    def replay(self, locale: str, cap_mb: int) -> None:
        """A sample's replay with a press, against a Mosquitto inside, to an order its subscriber receives."""
        sample = ROOT / "device" / "samples" / ("demo-en.wav" if locale == "en-US" else "demo-fr.wav")
        pad_wav(sample, self.box.root / "root" / f"{locale}.wav", PAD_S)
        shutil.copyfile(ROOT / "device" / "samples" / "catalog.json", self.box.root / "root" / "catalog.json")
        broker = subprocess.Popen(self.box.command("mosquitto", "-p", str(self.port)), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        sub = None
        meminfo_mount = None
        try:
            wait_for_port(self.port, 120)
            sub = subprocess.Popen(self.box.command("mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-v",
                                                    "-t", "reorder/v1/devices/+/orders", "-C", "1", "-W", "3600"),
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            time.sleep(15)  # QEMU starts it slowly: subscribed before the order comes
            if cap_mb:  # the Pi Zero 2 W: what it reports as its memory, and a cap on the whole replay
                meminfo_mount = self.box.bind_text("proc/meminfo", meminfo(Path("/proc/meminfo").read_text(),
                                                                           ZERO_2W_MEMTOTAL_KB))
            cmd = self.box.command("/opt/reorder/venv/bin/reorder", "replay", f"/root/{locale}.wav", "-v",
                                   "--config", "/etc/reorder/device.toml", "--broker", f"mqtt://127.0.0.1:{self.port}",
                                   "--catalog", "/root/catalog.json", "--press-at", str(PRESS_AT),
                                   "--outbox", f"/root/outbox-{locale}.sqlite3")
            done, memory = capped(cmd, cap_mb, self.box.log, f"replay {locale}", timeout=3600)
            try:
                order_line = sub.communicate(timeout=120)[0] or ""
            except subprocess.TimeoutExpired:
                order_line = ""
        finally:
            if meminfo_mount is not None:
                self.box.unbind(meminfo_mount)
            for proc in (sub, broker):
                if proc is not None and proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
        engine = re.search(r"recogniser: (\w+) \(([^)]*)\)", done.stderr)
        memory.update(engine=engine.group(1) if engine else None, why=engine.group(2) if engine else None,
                      seconds=self.box.log[-1]["seconds"], exit=done.returncode)
        self.report.setdefault("replay", {})[locale] = memory
        why = judge_replay(done.stdout, order_line, EXPECTED[locale])
        if why is None and locale == "en-US" and cap_mb and memory["engine"] != "moonshine":
            why = f"the Pi Zero 2 W profile ran {memory['engine']}, not Moonshine ({memory['why']})"
        if why is None and "Traceback" in done.stderr:
            why = "a traceback on stderr"
        capped_words = f" under a {cap_mb} MB cap (peak {memory.get('cgroup_peak_mb')} MB)" if cap_mb else ""
        self.say(why is None, f"replay {locale}", why or f"{memory['engine']}, order on the broker in "
                 f"{memory['seconds']:.0f} s{capped_words}, peak RSS {memory['peak_rss_mb']} MB with QEMU")

    def switch_to_french(self) -> None:
        """The device reconfigured for fr-FR and install.sh run again: the [french] extra and Whisper, no onnx."""
        config = self.box.root / "etc" / "reorder" / "device.toml"
        config.write_text(config.read_text().replace('locale = "en-US"', 'locale = "fr-FR"'))
        done = self.box.run(*self.install, what="install fr-FR (again)", timeout=7200)
        self.report["install_seconds"]["fr-FR (re-run)"] = self.box.log[-1]["seconds"]
        if done.returncode != 0:
            raise CheckError(f"install.sh again for fr-FR: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
        problems = []
        if "device-prepare.txt" in done.stdout:
            problems.append("onnx installed again although the Moonshine model is current")
        if not self.imports("ctranslate2"):
            problems.append("no ctranslate2 on a fr-FR device")
        if not (self.box.root / "opt/reorder/models/whisper-base/model.bin").is_file():
            problems.append("no Whisper model")
        self.sizes("fr-FR", ["whisper-base"])
        self.say(not problems, "install fr-FR (re-run)", "; ".join(problems) or
                 f"{self.report['install_seconds']['fr-FR (re-run)']:.0f} s, [french] added, no onnx")


def wait_for_port(port: int, timeout: float) -> None:
    """Until something listens on 127.0.0.1:port; CheckError after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(1)
    raise CheckError(f"Mosquitto did not listen on port {port} within {timeout:.0f} s")
