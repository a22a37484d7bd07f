"""Which recogniser runs, and why: `[recognizer] engine = "auto"` picks by locale, installed models and memory.

    en-US: Moonshine base-en (grammar-constrained) when its model is prepared and the board has
           the memory for it; else Vosk when a Vosk en-US model is installed; else pocketsphinx
           (its model ships in its wheel). The memory is the loop's, measured (LOOP_PEAK_MB).
    fr-FR: Whisper base (grammar-constrained) when its model is prepared and the memory is there;
           else Vosk when a Vosk fr-FR model is installed; else no recogniser (one clear line).
    `[recognizer] second_opinion`: Whisper base too, asked when Moonshine refuses (recognition.second_opinion).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from device.config import Settings
from device.errors import ModelError

log = logging.getLogger(__name__)

LOOP_PEAK_MB = {"moonshine": 269, "whisper": 253, "moonshine+whisper": 417}
"""The device loop's measured peak RSS with each neural engine, in MiB like memory_mb(), recognition started
early and Silero VAD included: `/usr/bin/time -f %M reorder replay device/samples/demo-en.wav` and demo-fr.wav with
the sample catalogue, 274,856 and 258,816 KiB at most (three runs or more each); both models, Whisper started
beside Moonshine (second_in_parallel), a wake word and a request Moonshine refuses: 426,296 KiB (BENCHMARKS.md
"Issue 23: the second opinion in int8, started beside Moonshine"). The model's preparation (~1.7 GB for Moonshine)
is not the loop's: it runs once, on the installer's laptop with scripts/provision --prepare-model, or fails
harmlessly on a small board."""
BOARD_FLOOR_MB = {"whisper": 600}
"""Whisper's loop fits a Pi Zero 2 W (253 MiB + the system), but the Zero's four Cortex-A53 cores at 1 GHz would take
~7-15 s to decide a French request (docs/installer.md's factors): `auto` picks Whisper only on a board with more
memory than the Zero's 512 MB (a Pi 3 or later), and a Zero speaking French takes Vosk. `engine = "whisper"` still
runs it there."""
SYSTEM_MB = 100
"""What Raspberry Pi OS Lite holds besides the loop (kernel, systemd, NetworkManager, sshd: ~100 MB)."""
SECOND_OPINION_AUTO_MB = 1800
"""`second_opinion = "auto"` asks Whisper on boards reporting this much memory (a 2 GB board's MemTotal is ~1.8 GB):
a Pi 4 or 5. The loop with both models peaks at 417 MiB (LOOP_PEAK_MB, measured with Whisper decoding: `reorder
replay` of a wake word and a request Moonshine refuses), so a 1 GB board would hold it, but its slower cores (a Pi 3)
would leave a household waiting 10 s or more for Whisper's answer (docs/installer.md's factors)."""


def neural_min_memory_mb(engine: str) -> int:
    """The memory (MemTotal, MB) a board needs for `auto` to pick this neural engine: its loop's peak plus the
    system's, and for Whisper more than a Zero 2 W has (BOARD_FLOOR_MB).

    Moonshine 369 MB: every 64-bit board, the Pi Zero 2 W (MemTotal ~427,000 kB: 416 MB) too; Whisper 600 MB: not
    the Zero.
    """
    return max(LOOP_PEAK_MB[engine] + SYSTEM_MB, BOARD_FLOOR_MB.get(engine, 0))


@dataclass(frozen=True)
class Choice:
    """The recogniser that will run and the one-line reason."""

    engine: str
    why: str
    model: Path | None = None
    second: str = ""
    """The recogniser asked when this one refuses ("whisper"), or "" for none (`[recognizer] second_opinion`)."""
    second_why: str = ""


def memory_mb() -> int:
    """Total memory of this machine (MB), from /proc/meminfo; 0 when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _neural_model(locale: str) -> tuple[str, Path]:
    if locale.startswith("en"):
        from device.adapters.speech.moonshine import MODEL_FILES, default_model_dir

        folder = default_model_dir()
        return ("moonshine" if all((folder / f).exists() for f in MODEL_FILES) else ""), folder
    from device.prepare.whisper import default_model_dir as whisper_dir
    from device.prepare.whisper import is_prepared

    folder = whisper_dir()
    return ("whisper" if is_prepared(folder) else ""), folder


def choose(settings: Settings, memory: int | None = None) -> Choice:
    """The recogniser for these settings on this machine (see the module docstring), and its second opinion."""
    memory = memory_mb() if memory is None else memory
    first = _choose_first(settings, memory)
    second, why = _choose_second(settings, first, memory)
    return replace(first, second=second, second_why=why) if second else first


def _choose_second(settings: Settings, first: Choice, memory: int) -> tuple[str, str]:
    """("whisper", why) when `[recognizer] second_opinion` asks for it and it can run after `first`, else ("", "")."""
    wanted = settings.recognizer.second_opinion
    if wanted == "off":
        return "", ""
    if first.engine != "moonshine":
        if wanted == "whisper":
            raise ModelError(f"[recognizer] second_opinion = \"whisper\" backs up Moonshine (en-US), not "
                             f"{first.engine} for {settings.device.locale}; set it to \"off\" or \"auto\"")
        return "", ""
    prepared, folder = _neural_model("fr-FR")  # the same Whisper base model, decoding English
    missing = "" if prepared else f"no Whisper model in {folder}"
    if importlib.util.find_spec("ctranslate2") is None:
        missing = "ctranslate2 is not installed"
    if missing:
        if wanted == "whisper":
            raise ModelError(f"[recognizer] second_opinion = \"whisper\": {missing}; run `sudo scripts/install.sh "
                             f"--only pip,model` with it in the config (a laptop: scripts/dev setup), or set it to "
                             f"\"off\"")
        return "", ""
    need = max(LOOP_PEAK_MB["moonshine+whisper"] + SYSTEM_MB, SECOND_OPINION_AUTO_MB)
    if wanted == "auto" and memory and memory < need:
        return "", ""
    if wanted == "whisper":
        return "whisper", f"configured: Whisper model in {folder}"
    return "whisper", f"auto: Whisper model in {folder}, {memory or '?'} MB of memory (auto needs {need})"


def _choose_first(settings: Settings, memory: int) -> Choice:
    r, locale = settings.recognizer, settings.device.locale
    if r.engine in ("moonshine", "whisper"):
        return Choice(r.engine, "configured")
    if r.engine == "pocketsphinx":
        return Choice("pocketsphinx", "configured")
    from device.adapters.speech.vosk import find_model

    vosk = find_model(r.vosk_model, locale)
    if r.engine == "vosk":
        return Choice("vosk", "configured", vosk)
    neural, folder = _neural_model(locale)
    need = neural_min_memory_mb(neural) if neural else 0
    if neural and (memory == 0 or memory >= need or os.environ.get("REORDER_FORCE_NEURAL")):
        return Choice(neural, f"auto: {neural} model in {folder}, {memory or '?'} MB of memory", folder)
    short = f"{memory} MB of memory is under the {need} MB {neural} needs" if neural \
        else f"no {('Moonshine' if locale.startswith('en') else 'Whisper')} model in {folder}"
    if vosk is not None:
        return Choice("vosk", f"auto: {short}; Vosk model in {vosk}", vosk)
    if locale.startswith("en"):
        return Choice("pocketsphinx", f"auto: {short}; pocketsphinx (model in its wheel)")
    raise ModelError(f"no recogniser for {locale}: {short}, and no Vosk model is installed; run scripts/dev setup "
                     f"(laptop) or scripts/install.sh (device), or set [recognizer] vosk_model")


def load(settings: Settings, choice: Choice | None = None):
    """The recogniser object for this choice (models load here)."""
    choice = choice or choose(settings)
    r, locale = settings.recognizer, settings.device.locale
    log.info("recogniser: %s (%s)", choice.engine, choice.why)
    if choice.engine == "moonshine":
        if not locale.startswith("en"):
            raise ModelError(f"[recognizer] engine = \"moonshine\" is English only; for {locale} use \"whisper\"")
        from device.adapters.speech.moonshine import Moonshine
        from device.recognition.neural import ConstrainedRecognizer, SearchSettings

        first = ConstrainedRecognizer(Moonshine(trim=False, threads=r.model_threads()), locale,
                                      SearchSettings(**NEURAL_SEARCH["moonshine"]))
        if choice.second:
            both = second_opinion(first, r.min_confidence, r.model_threads())
            log.info("second opinion: %s (%s)%s", choice.second, choice.second_why,
                     ", started beside Moonshine" if both.parallel else "")
            return both
        return first
    if choice.engine == "whisper":
        from device.adapters.speech.whisper import WhisperDecoder
        from device.recognition.neural import ConstrainedRecognizer, SearchSettings

        return ConstrainedRecognizer(WhisperDecoder(language=locale.split("-")[0], threads=r.model_threads()), locale,
                                     SearchSettings(**NEURAL_SEARCH["whisper"]))
    if choice.engine == "vosk":
        from device.adapters.speech.vosk import Vosk, default_model_dir

        if choice.model is None:
            raise ModelError(f"no Vosk model for {locale}: expected {default_model_dir(locale)}; run "
                             f"scripts/install.sh or set [recognizer] vosk_model")
        return Vosk(choice.model)
    if not locale.startswith("en"):
        raise ModelError(f"pocketsphinx is English only; for {locale} use \"whisper\" or \"vosk\"")
    from device.adapters.speech.pocketsphinx import PocketSphinx

    return PocketSphinx(locale, cross_check=r.cross_check)


def second_opinion(first, min_confidence: float, threads: int = 1):
    """`first` (Moonshine's ConstrainedRecognizer) with Whisper base, decoding English, asked when it refuses: the
    same grammar and Moonshine's search settings, so its answer must clear the same rejection rule."""
    from device.adapters.speech.whisper import WhisperDecoder
    from device.recognition.neural import ConstrainedRecognizer, SearchSettings
    from device.recognition.second_opinion import SecondOpinion

    second = ConstrainedRecognizer(WhisperDecoder(language="en", threads=threads), first.locale,
                                   SearchSettings(**NEURAL_SEARCH["moonshine"]))
    return SecondOpinion(first, second, min_confidence, parallel=second_in_parallel(threads))


def second_in_parallel(threads: int, cores: int | None = None) -> bool:
    """Whether the second opinion starts beside the first model (SecondOpinion's `parallel`): when the board has the
    cores for both models' threads at once (every Pi with 4 cores at 2 threads; this 2-core machine at 1)."""
    return (cores or os.cpu_count() or 1) >= 2 * max(threads, 1)


NEURAL_SEARCH: dict[str, dict[str, Any]] = {
    "moonshine": {"beam": 6, "token_bonus": 0.0, "reject_gap": -0.75, "short_allowance": 1.0, "greedy_first": True,
                  "ended_early_words": 2},
    "whisper": {"beam": 6, "token_bonus": 0.0, "reject_gap": -1.25, "reject_mean": -1.75, "short_allowance": 1.0},
}
"""Search settings per neural engine, chosen on the development recordings (BENCHMARKS.md "Real speech"; Whisper:
"Real French speech", scripts/bench_french.py's rule — Whisper writes "éteins" as "Étant", so French commands
sit far below the free transcript and the gap must be loose; out-of-domain speech is caught by reject_mean).
short_allowance (issue 24): Whisper's by `python -m bench french`'s rule on real French commands cut into short pieces,
Moonshine's by bench/short_answers.py on flite voices (BENCHMARKS.md "Short answers in English").
greedy_first and ended_early_words (issue 23): measured on all 1,220 barista decisions and 517 out-of-grammar clips
(BENCHMARKS.md "Real speech"): the greedy shortcut changes 2 sentences (both still right); the guard halves wrong
read-backs at 6 dB (4 -> 2) for 2 refusals. 2 words, not 3: cut by the device's endpointer (Silero VAD, the audio up
to 0.24 s after the speech) a garbled last clause leaves 1-2 words in the free transcript ("... house coffee with
horror"): on the 305 commands at 6 dB it refuses 2 of 4 wrong read-backs for 4 right ones, on whole recordings
the same as 3 but one right command at 9 dB. greedy_resume (issue 23, 2026-12-07) is left off: on all 305 commands
at clean/12/9/6 dB, right +0/-1/+4/+7 and wrong +0/+0/+0/+1 as the device hears them, but right +0/-3/+2/+1 and
wrong +0/+0/+0/+1 decoded whole (the benchmark's rule); right minus three times wrong is +7 and -3, and the wrong
read-backs at 6 dB reach 1.0% either way (BENCHMARKS.md "the beam resumed where the greedy pass left the grammar").
ended_early_words counts with rejection.words_past since 2026-12-07 (words after the last word the sentence and the free
transcript share, and words the free transcript holds between two shared words where the sentence has none; not a
misheard opening, the request said again, or a word heard as several): the threshold (2) unchanged, measured on all
the barista data (BENCHMARKS.md "Issue 23: a request said twice is not a sentence cut short", "... a word heard as
several").
carrier_forgiven (SearchSettings, on for both; issue 23, 2026-12-07): a sentence whose free transcript differs from it
in carrier words only is judged by reject_mean alone, over the words heard (heard_mean); no number fitted, measured on
all the barista data (BENCHMARKS.md "Issue 23: carrier words", "... the carrier words not heard do not lower the
mean")."""
