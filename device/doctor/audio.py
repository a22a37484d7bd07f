"""Doctor checks of the sound hardware: the microphone (records and measures a level) and the speaker."""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
import threading
from typing import Any

from device.adapters.audio.microphone import resolve_device
from device.audio.source import FRAME_SAMPLES, SAMPLE_RATE, SAMPLE_WIDTH
from device.config import Settings
from device.dialogue.phrasebook import phrasebook
from device.doctor.result import Result, failed, passed, warned
from device.errors import AudioError

log = logging.getLogger(__name__)

SILENCE_DBFS = -75.0
"""Below this RMS level (dBFS) a microphone is reported as almost silent (a warning)."""
METER_FLOOR_DBFS = -90.0
"""The level meter's empty end (dBFS); its full end is 0 dBFS."""
METER_WIDTH = 20
STOP_SERVICE = "stop the service first if it runs (sudo systemctl stop reorder)"


def _sounddevice() -> Any:
    """sounddevice, or an OSError when PortAudio (libportaudio2) is missing."""
    import sounddevice

    return sounddevice


def _listing(devices: list[dict[str, Any]], channels: str) -> str:
    """`0 "USB mic", 2 "default"` for the devices that have channels of that kind."""
    found = [f'{d["index"]} "{d["name"]}"' for d in devices if d[channels] > 0]
    return ", ".join(found) or "none"


def level_dbfs(samples: Any) -> tuple[float, float]:
    """RMS and peak level of int16 samples in dBFS (-inf for digital silence)."""
    import numpy as np

    values = np.asarray(samples, dtype=np.float64) / 32768.0
    if values.size == 0:
        return -math.inf, -math.inf
    rms = float(np.sqrt(np.mean(values * values)))
    peak = float(np.max(np.abs(values)))
    to_db = lambda v: 20 * math.log10(v) if v > 0 else -math.inf  # noqa: E731
    return to_db(rms), to_db(peak)


def meter(db: float, width: int = METER_WIDTH) -> str:
    """A text level meter: `[#######-------------]` from METER_FLOOR_DBFS to 0 dBFS."""
    filled = 0 if db == -math.inf else round(width * min(1.0, max(0.0, 1 - db / METER_FLOOR_DBFS)))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def record(sd: Any, device: int | str | None, seconds: float, grace: float = 3.0) -> bytes:
    """The first `seconds` of 16 kHz mono int16 audio from `device`, as `reorder run` opens it.

    Every block is kept in order (the loop's Microphone keeps only the newest when it falls
    behind); gives up `grace` seconds after the audio should have arrived and returns what came.
    """
    needed = int(seconds * SAMPLE_RATE) * SAMPLE_WIDTH
    chunks: list[bytes] = []
    done = threading.Event()

    def callback(data: Any, frames: int, time_info: Any, status: Any) -> None:  # PortAudio's thread
        if not done.is_set():
            chunks.append(bytes(data))
            if sum(map(len, chunks)) >= needed:
                done.set()

    try:
        with sd.RawInputStream(samplerate=SAMPLE_RATE, blocksize=FRAME_SAMPLES, channels=1, dtype="int16",
                               device=device, callback=callback):
            done.wait(seconds + grace)
    except (sd.PortAudioError, ValueError) as exc:
        raise AudioError(f"16 kHz mono capture fails: {exc}") from None
    return b"".join(chunks)[:needed]


def check_microphone(settings: Settings, seconds: float = 2.0) -> Result:
    """PortAudio loads, an input device exists, and `seconds` recorded from it are not silent."""
    name = "microphone"
    try:
        sd = _sounddevice()
    except OSError as exc:
        return failed(name, f"sounddevice cannot load PortAudio ({exc})", "sudo apt-get install libportaudio2")
    try:
        devices = [dict(d) for d in sd.query_devices()]
    except sd.PortAudioError as exc:
        return failed(name, f"PortAudio cannot list the sound devices ({exc})", "check `arecord -l` and ALSA's setup")
    if not any(d["max_input_channels"] > 0 for d in devices):
        return failed(name, "no input device: PortAudio lists no microphone",
                      "plug in a USB microphone or sound-card HAT, check that `arecord -l` lists it, and that "
                      "this user is in the audio group")
    spec = settings.audio.input_device
    try:
        info = dict(sd.query_devices(resolve_device(spec), "input"))
    except (ValueError, sd.PortAudioError) as exc:
        where = f"[audio] input_device {spec!r} matches no input ({exc})" if spec else "no default input device"
        return failed(name, where, f"set [audio] input_device to one of: {_listing(devices, 'max_input_channels')}")
    try:
        audio = record(sd, resolve_device(spec), seconds)
    except AudioError as exc:
        return failed(name, f'"{info["name"]}" cannot record ({exc})',
                      f"{STOP_SERVICE}; inputs: {_listing(devices, 'max_input_channels')}")
    import numpy as np

    samples = np.frombuffer(audio, dtype="<i2")
    heard = samples.size / SAMPLE_RATE
    if heard < 0.9 * seconds:
        return failed(name, f'"{info["name"]}" delivered {heard:.1f} s of audio in {seconds + 3:g} s',
                      f"check its cable or USB port, and {STOP_SERVICE}")
    if not samples.any():
        return failed(name, f'microphone delivers silence ("{info["name"]}": all-zero samples for {seconds:g} s)',
                      "unmute it and raise its capture level (alsamixer, F4), or point [audio] input_device at the "
                      f"microphone; inputs: {_listing(devices, 'max_input_channels')}")
    rms, peak = level_dbfs(samples)
    detail = f'"{info["name"]}" level {rms:.1f} dBFS {meter(rms)} peak {peak:.1f} dBFS over {seconds:g} s'
    if rms < SILENCE_DBFS:
        return warned(name, f"{detail}: almost silent", "speak during the check, and raise its capture level "
                      "(alsamixer, F4)")
    return passed(name, detail)


def _espeak_works(binary: str, locale: str) -> str:
    """"" when espeak-ng renders a word in the locale's voice, else what went wrong."""
    voice = phrasebook(locale).voice
    try:
        out = subprocess.run([binary, "-v", voice, "--stdout", "test"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"espeak-ng cannot run ({exc})"
    if out.returncode != 0 or not out.stdout:
        err = out.stderr.decode(errors="replace").strip().splitlines()
        return f"espeak-ng fails for voice {voice} ({err[0] if err else f'exit {out.returncode}'})"
    return ""


def check_speaker(settings: Settings) -> Result:
    """An output device exists and espeak-ng speaks the locale; missing ones are warnings (LED-only read-backs)."""
    name = "speaker"
    if not settings.confirmation.speak:
        return passed(name, "read-backs are off ([confirmation] speak = false)")
    problems: list[str] = []
    fixes: list[str] = []
    binary = shutil.which("espeak-ng")
    if not binary:
        problems.append("espeak-ng is not installed")
        fixes.append("sudo apt-get install espeak-ng")
    else:
        broken = _espeak_works(binary, settings.device.locale)
        if broken:
            problems.append(broken)
            fixes.append("reinstall it (sudo apt-get install --reinstall espeak-ng espeak-ng-data)")
    output = ""
    try:
        sd = _sounddevice()
        devices = [dict(d) for d in sd.query_devices()]
    except OSError as exc:
        problems.append(f"sounddevice cannot load PortAudio ({exc})")
        fixes.append("sudo apt-get install libportaudio2")
    else:
        spec = settings.audio.output_device
        if not any(d["max_output_channels"] > 0 for d in devices):
            problems.append("no output device")
            fixes.append("plug in a speaker (USB, 3.5 mm jack or a HAT) and check `aplay -l`")
        else:
            try:
                output = dict(sd.query_devices(resolve_device(spec), "output"))["name"]
            except (ValueError, sd.PortAudioError) as exc:
                if spec:
                    return failed(name, f"[audio] output_device {spec!r} matches no output ({exc})",
                                  f"set it to one of: {_listing(devices, 'max_output_channels')}")
                problems.append("no default output device")
                fixes.append(f"set [audio] output_device to one of: {_listing(devices, 'max_output_channels')}")
    if problems:
        return warned(name, "; ".join(problems) + ": read-backs are shown by the LED only", "; ".join(fixes))
    return passed(name, f'"{output}" with espeak-ng ({settings.device.locale} voice)')
