"""scripts/pi-check without QEMU: its arguments, the Pi-like /proc files it mounts, the padded sample, its
verdicts on a replay and a doctor run, and the memory cap (a real cgroup when this machine has one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from tests.support import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "pi-check"


pi_check = load_script(SCRIPT, "pi_check")
box = sys.modules["pi_check_box"]

EN_ORDER = [{"sku": "COFFEE-500G", "quantity": 1}, {"sku": "MILK-1L", "quantity": 2}]


def events(*extra: dict, items=EN_ORDER) -> str:
    lines = [{"event": "transcript", "text": "could you order a coffee and two bottles of milk"},
             {"event": "prompt", "items": items}, *extra]
    return "\n".join(json.dumps(e) for e in lines) + "\nreorder: WARNING not json\n"


PRESSED = ({"event": "confirmed"}, {"event": "queued"}, {"event": "published"})
ORDER = ("reorder/v1/devices/pi-check-01/orders "
         + json.dumps({"items": [{"sku": "COFFEE-500G", "quantity": 1, "unit_price": 6.49},
                                 {"sku": "MILK-1L", "quantity": 2, "unit_price": 1.15}]}) + "\n")


def test_arguments_name_the_releases_and_refuse_others(capsys) -> None:
    assert pi_check.parse_args([]).releases == ("bookworm", "trixie")
    assert pi_check.parse_args(["all"]).releases == ("bookworm", "trixie")
    assert pi_check.parse_args(["trixie", "--memory-cap", "0"]).releases == ("trixie",)
    for bad in (["buster"], ["bookworm", "--memory-cap", "-1"], ["--cache", str(ROOT / "cache")]):
        with pytest.raises(SystemExit) as exc:
            pi_check.parse_args(bad)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'buster'" in err and "--memory-cap" in err and "inside the checkout" in err


def test_help_runs_without_root_or_qemu() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "bookworm" in done.stdout and "trixie" in done.stdout


def test_without_root_it_stops_with_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert pi_check.main(["bookworm"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs root" in err


@pytest.mark.parametrize(("entry", "words"), [
    (None, "no enabled qemu-aarch64 binfmt entry"),
    ("disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\n", "no enabled"),
    ("enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: P\n", "lacks the F (fix binary) flag (flags: P)"),
])
def test_the_binfmt_entry_must_be_enabled_with_the_fix_binary_flag(monkeypatch, tmp_path: Path, capsys,
                                                                    entry: str | None, words: str) -> None:
    binfmt = tmp_path / "qemu-aarch64"
    if entry is not None:
        binfmt.write_text(entry)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(pi_check.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(pi_check, "BINFMT", binfmt)
    assert pi_check.main(["trixie"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err


def test_qemu_version_decides_the_cpuinfo_mount() -> None:
    assert pi_check.qemu_major("qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n") == 7
    assert pi_check.qemu_major("qemu-aarch64 version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)") == 8
    assert pi_check.qemu_major("") == 0


def test_the_root_file_system_command_is_arm64_with_what_the_check_runs() -> None:
    cmd = pi_check.mmdebstrap_command("trixie", Path("/c/trixie.tar.part"), "http://deb.debian.org/debian")
    assert cmd[:4] == ["mmdebstrap", "--arch=arm64", "--variant=apt", "--format=tar"]
    include = next(a for a in cmd if a.startswith("--include=")).split("=", 1)[1].split(",")
    assert {"python3", "mosquitto", "mosquitto-clients", "systemd", "ca-certificates"} <= set(include)
    assert cmd[-3:] == ["trixie", "/c/trixie.tar.part", "http://deb.debian.org/debian"]


def test_cpuinfo_is_a_pi_4s_not_the_hosts() -> None:
    text = box.cpuinfo()
    assert text.count("processor\t:") == 4 and text.count("CPU part\t: 0xd08") == 4  # Cortex-A72
    assert "asimd" in text and "vendor_id" not in text and "flags" not in text


def test_meminfo_says_a_zero_2w_and_keeps_the_rest() -> None:
    host = "MemTotal:       24683520 kB\nMemFree:        21270000 kB\nMemAvailable:   22944000 kB\nBuffers: 1 kB\n"
    text = box.meminfo(host, 427_000)
    values = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()}
    assert values == {"MemTotal": 427_000, "MemFree": 367_000, "MemAvailable": 367_000, "Buffers": 1}


def test_the_sample_is_padded_with_silence(tmp_path: Path) -> None:
    src, dst = ROOT / "device" / "samples" / "demo-en.wav", tmp_path / "en.wav"
    box.pad_wav(src, dst, 2.5)
    with wave.open(str(src)) as a, wave.open(str(dst)) as b:
        assert b.getnframes() == a.getnframes() + int(2.5 * a.getframerate())
        assert b.readframes(a.getnframes()) == a.readframes(a.getnframes())
        assert set(b.readframes(b.getnframes())) == {0}
    assert box.PRESS_AT < 6.3 + box.PAD_S  # the press falls inside the padded audio


def test_a_replay_passes_only_with_the_read_back_the_press_and_the_order_on_the_broker() -> None:
    assert box.judge_replay(events(*PRESSED), ORDER, EN_ORDER) is None
    assert "read back" in box.judge_replay(events(*PRESSED, items=EN_ORDER[:1]), ORDER, EN_ORDER)
    assert "'published'" in box.judge_replay(events(*PRESSED[:2]), ORDER, EN_ORDER)
    assert "no order" in box.judge_replay(events(*PRESSED), "", EN_ORDER)
    assert "the broker got" in box.judge_replay(events(*PRESSED), ORDER.replace("pi-check-01", "other"), EN_ORDER)
    no_prompt = json.dumps({"event": "transcript", "text": "could you"}) + "\n"
    assert "no read-back (transcript 'could you'" in box.judge_replay(no_prompt, ORDER, EN_ORDER)


def test_the_doctor_may_fail_on_hardware_but_not_on_models_or_with_a_traceback() -> None:
    hardware = ("✗ microphone: no input device — plug one in\n✓ recognizer: moonshine for en-US (auto: ...)\n"
                "! speaker: no output device — plug one\ndoctor: 1 passed, 1 warning, 1 failed: fix the lines\n")
    assert box.judge_doctor(hardware) is None
    assert "recognizer" in box.judge_doctor(hardware.replace("✓ recognizer", "✗ recognizer"))
    assert "traceback" in box.judge_doctor(hardware + "Traceback (most recent call last):\n")
    assert "unexpected" in box.judge_doctor("Segmentation fault\n")
    assert "unexpected" in box.judge_doctor("")


def test_an_uncapped_run_reports_the_childs_peak_rss(tmp_path: Path) -> None:
    log: list[dict] = []
    done, memory = box.capped([sys.executable, "-c", "x = bytearray(120 << 20); x[::4096] = b'1' * len(x[::4096])"],
                              0, log, "alloc")
    assert done.returncode == 0 and memory["peak_rss_mb"] >= 120 and log[0]["step"] == "alloc"


@pytest.mark.skipif(os.geteuid() != 0 or box.memory_cgroup() is None, reason="needs root and a memory cgroup")
def test_the_memory_cap_stops_a_process_over_it() -> None:
    log: list[dict] = []
    grab = "x = bytearray({} << 20); x[::4096] = b'1' * len(x[::4096]); print('survived')"
    small, memory = box.capped([sys.executable, "-c", grab.format(60)], 200, log, "under")
    assert small.returncode == 0 and "survived" in small.stdout and memory["cap_mb"] == 200
    assert 60 <= memory["cgroup_peak_mb"] <= 200
    big, _ = box.capped([sys.executable, "-c", grab.format(400)], 200, log, "over")
    assert big.returncode != 0 and "survived" not in big.stdout


def test_the_provisioned_wake_section_is_dropped_for_the_devices_default() -> None:
    toml = ('[device]\nid = "pi-check-01"\n\n[wake]\nengine = "openwakeword"\nkeyword = "hey_jarvis"\n\n'
            '[mqtt]\nbroker = "mqtt://127.0.0.1:1"\n')
    assert box.without_section(toml, "wake") == '[device]\nid = "pi-check-01"\n\n[mqtt]\nbroker = "mqtt://127.0.0.1:1"\n'
    assert box.without_section(toml.split("[mqtt]")[0], "wake") == '[device]\nid = "pi-check-01"\n\n'
