"""Sound out: espeak-ng renders read-backs, earcons are made in code, sounddevice plays them in turn."""

from __future__ import annotations

import io
import logging
import queue
import shutil
import subprocess
import threading
import wave

import numpy as np

from device.adapters.audio.earcons import RATE as CUE_RATE
from device.adapters.audio.earcons import tone
from device.dialogue.phrasebook import phrasebook

log = logging.getLogger(__name__)

class EspeakSpeaker:
    """Says text in the locale's voice (its messages file names it) and plays cues; each call returns
    how long it sounds, so the loop ignores the microphone meanwhile. Playback runs in order on one
    background thread. `rate` is words per minute, `volume` a percentage applied to every sound."""

    def __init__(self, output_device: str = "", play: bool = True, rate: int = 175, volume: int = 100) -> None:
        self.binary = shutil.which("espeak-ng")
        self.play = play
        self.rate, self.volume = rate, volume
        self.output_device = output_device
        self._warned = False
        self._queue: queue.Queue = queue.Queue()
        self._player: threading.Thread | None = None
        if not self.binary:
            log.warning("espeak-ng is not installed: read-backs are shown by the LED only "
                        "(apt-get install espeak-ng)")

    def render(self, text: str, locale: str) -> tuple[np.ndarray, int]:
        """Speech samples (int16 mono) and their rate."""
        voice = phrasebook(locale).voice
        out = subprocess.run([self.binary or "espeak-ng", "-v", voice, "-s", str(self.rate), "--stdout", text],
                             check=True, capture_output=True, timeout=20).stdout
        with wave.open(io.BytesIO(out)) as wav:
            return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"), wav.getframerate()

    def say(self, text: str, locale: str) -> float:
        """Speak (or, in replay, only render) `text`; its length in seconds, 0 when it cannot speak."""
        if not self.binary:
            return 0.0
        try:
            samples, rate = self.render(text, locale)
        except (subprocess.SubprocessError, OSError, wave.Error) as exc:
            log.warning("espeak-ng failed (%s); read-back shown by the LED only", exc)
            return 0.0
        return self._out(samples, rate)

    def cue(self, name: str) -> float:
        """Play an earcon ("listen", "confirmed", "cancelled", "refused", "done"); its length."""
        return self._out(tone(name), CUE_RATE)

    def _out(self, samples: np.ndarray, rate: int) -> float:
        if self.volume != 100:
            scaled = samples.astype(np.float32) * (self.volume / 100)
            samples = np.clip(scaled, -32768, 32767).astype(np.int16)
        if self.play:
            if self._player is None:
                self._player = threading.Thread(target=self._play_in_turn, name="speaker", daemon=True)
                self._player.start()
            self._queue.put((samples, rate))
        return len(samples) / rate

    def _play_in_turn(self) -> None:
        while True:
            samples, rate = self._queue.get()
            try:
                import sounddevice as sd

                device = int(self.output_device) if self.output_device.isdigit() else (self.output_device or None)
                sd.play(samples, rate, device=device, blocking=True)
            except Exception as exc:  # PortAudioError, OSError: no speaker is not fatal
                if not self._warned:
                    log.warning("no speaker to play read-backs on (%s); LEDs only", exc)
                    self._warned = True
