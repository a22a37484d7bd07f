"""The microphone through sounddevice (PortAudio): 80 ms frames of 16 kHz mono int16."""

from __future__ import annotations

import logging
import queue

from device.audio.source import FRAME_SAMPLES, SAMPLE_RATE
from device.errors import AudioError

log = logging.getLogger(__name__)


def _sounddevice():
    try:
        import sounddevice
    except OSError as exc:  # libportaudio2 missing
        raise AudioError(f"sounddevice cannot load PortAudio ({exc}); install it: apt-get install libportaudio2") \
            from None
    return sounddevice


def resolve_device(spec: str, kind: str = "input") -> int | str | None:
    """A config device spec ("" / "2" / "USB") as sounddevice wants it."""
    if not spec:
        return None
    return int(spec) if spec.isdigit() else spec


class Microphone:
    """Live capture. Closing it really closes the stream (mute means the microphone is off)."""

    def __init__(self, device: str = "") -> None:
        self.device = resolve_device(device)
        self.name = f"microphone {device or '(default)'}"
        self._stream = None
        # 30 s of frames: a loop that stalls (a slow decode) catches up instead of losing speech.
        self._frames: queue.Queue[bytes] = queue.Queue(maxsize=375)
        self.overflows = 0

    @property
    def is_open(self) -> bool:
        return self._stream is not None

    def _callback(self, data, frames, time_info, status) -> None:  # PortAudio's thread
        if status.input_overflow:
            self.overflows += 1
        try:
            self._frames.put_nowait(bytes(data))
        except queue.Full:  # the loop fell behind; drop the oldest rather than block PortAudio
            self.overflows += 1
            self._frames.get_nowait()
            self._frames.put_nowait(bytes(data))

    def open(self) -> None:
        if self._stream is not None:
            return
        sd = _sounddevice()
        try:
            stream = sd.RawInputStream(samplerate=SAMPLE_RATE, blocksize=FRAME_SAMPLES, channels=1,
                                       dtype="int16", device=self.device, callback=self._callback)
            self._stream = stream
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            self._stream = None
            raise AudioError(f"{self.name} cannot be opened at 16 kHz mono ({exc}); check [audio] input_device "
                             f"(`reorder doctor` lists the devices)") from None
        log.info("%s open", self.name)

    def read(self) -> bytes | None:
        if self._stream is None:
            raise AudioError(f"{self.name} was read while closed (muted)")
        try:
            return self._frames.get(timeout=2.0)
        except queue.Empty:
            raise AudioError(f"{self.name} delivered no audio for 2 s; is it unplugged?") from None

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()
            log.info("%s closed", self.name)
        while not self._frames.empty():
            self._frames.get_nowait()
