"""Speech out: espeak-ng renders the read-back, sounddevice plays it (when there is a speaker)."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import wave

log = logging.getLogger(__name__)

VOICES = {"en": "en-us", "fr": "fr"}


class EspeakSpeaker:
    """Says text in the locale's voice; returns how long it speaks so the loop stays deaf meanwhile."""

    def __init__(self, output_device: str = "", play: bool = True) -> None:
        self.binary = shutil.which("espeak-ng")
        self.play = play
        self.output_device = output_device
        self._warned = False
        if not self.binary:
            log.warning("espeak-ng is not installed: read-backs are shown by the LED only "
                        "(apt-get install espeak-ng)")

    def render(self, text: str, locale: str) -> tuple[bytes, int]:
        """WAV samples (int16 mono) and their rate."""
        voice = VOICES.get(locale.split("-")[0], "en-us")
        out = subprocess.run([self.binary, "-v", voice, "-s", "175", "--stdout", text], check=True,
                             capture_output=True, timeout=20).stdout
        with wave.open(io.BytesIO(out)) as wav:
            return wav.readframes(wav.getnframes()), wav.getframerate()

    def say(self, text: str, locale: str) -> float:
        """Speak (or, in replay, only render) `text`; its length in seconds, 0 when it cannot speak."""
        if not self.binary:
            return 0.0
        try:
            samples, rate = self.render(text, locale)
        except (subprocess.SubprocessError, OSError, wave.Error) as exc:
            log.warning("espeak-ng failed (%s); read-back shown by the LED only", exc)
            return 0.0
        seconds = len(samples) / 2 / rate
        if self.play:
            self._play(samples, rate)
        return seconds

    def _play(self, samples: bytes, rate: int) -> None:
        try:
            import numpy as np
            import sounddevice as sd

            device = int(self.output_device) if self.output_device.isdigit() else (self.output_device or None)
            sd.play(np.frombuffer(samples, dtype="<i2"), rate, device=device)
        except Exception as exc:  # PortAudioError, OSError: no output device is not fatal
            if not self._warned:
                log.warning("no speaker to play read-backs on (%s); LEDs only", exc)
                self._warned = True
