"""Benchmark audio: files read through sox, speech made on the spot (espeak-ng, flite), noise and its mixing.

Everything is 16 kHz mono int16 and deterministic (fixed texts, voices, seeds), so two runs of a
benchmark hear the same audio. Every benchmark reads, writes, speaks and mixes through here. Nothing
here imports the device package.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import subprocess
import wave
import zlib
from pathlib import Path

import numpy as np

from tests.speech import espeak

RATE = 16000
FRAME = 1280

# Everyday talk that is not the wake word: what a kitchen speaker hears all day.
ENGLISH = [
    "Good morning. The forecast says clouds until noon and light rain in the afternoon, so take a coat when you "
    "go out. The bus was late again yesterday, and the driver said the road works near the bridge will last "
    "until the end of the month. I think I will cycle to work tomorrow if it stays dry.",
    "Can you pass me the salt? The soup needs a little more, and maybe some pepper as well. Your grandmother "
    "used to add a spoon of cream at the very end, just before serving. I never managed to make it taste "
    "quite like hers, but this one is not bad at all.",
    "The meeting has been moved to Thursday at half past three. Please bring the numbers for the second quarter "
    "and the notes from the last review. If anyone cannot make it, send an email to the team before Wednesday "
    "evening so we can find another slot.",
    "We watched a documentary about whales last night. Some of them travel thousands of kilometres every year "
    "between the cold waters where they feed and the warm seas where their calves are born. The songs of the "
    "males can be heard across an entire ocean basin.",
    "Remember that the plumber is coming on Saturday morning between nine and eleven. Someone has to stay at "
    "home to let him in. The tap in the bathroom is still dripping, and the pipe under the sink makes a strange "
    "noise whenever the washing machine is running.",
    "The children have a school trip to the science museum next week. They need a packed lunch, a bottle of "
    "water and a signed form by Monday. The teacher also asked for two parents to come along and help with the "
    "groups in the afternoon.",
    "I finished the novel you lent me. The first half was slow, but the ending was wonderful and I did not see "
    "the twist coming at all. The author has written three other books, and the library has two of them, so I "
    "will pick one up on Friday.",
    "The garden needs some work before winter. The roses should be pruned, the leaves raked, and the old fence "
    "behind the shed is starting to lean. If the weather is good this weekend, we could do most of it in a "
    "single afternoon with the neighbours' ladder.",
    "Traffic on the ring road is heavy this evening because of an accident near the northern exit. Drivers are "
    "advised to use the coast road instead. The trains are running normally, apart from a short delay on the "
    "line to the airport.",
    "Let us plan the holiday. We could rent a small house near the lake for a week in August. There is a market "
    "in the village on Tuesdays, a path around the water for walking, and a boat you can hire by the hour when "
    "the wind is calm.",
    "My phone keeps losing its connection in the living room. Maybe the router should move closer to the "
    "window, or we need one of those small boxes that repeat the signal. The computer upstairs has no trouble "
    "at all, which is rather strange.",
    "Happy birthday to you! We made a chocolate cake with strawberries on top, and there are candles somewhere "
    "in the drawer next to the oven. Everyone is coming at seven, so we still have time to tidy up and set the "
    "table properly.",
]
FRENCH = [
    "Bonjour à tous. Il fait beau ce matin, mais la météo annonce de la pluie pour la fin de l'après-midi. "
    "N'oubliez pas de prendre un parapluie si vous sortez. Le bus de huit heures était encore en retard hier, "
    "à cause des travaux près du pont.",
    "Tu peux me passer le sel, s'il te plaît ? La soupe manque un peu de goût. Ta grand-mère ajoutait toujours "
    "une cuillère de crème à la fin, juste avant de servir. Je n'ai jamais réussi à la faire aussi bien qu'elle, "
    "mais celle-ci n'est pas mal du tout.",
    "La réunion est déplacée à jeudi, quinze heures trente. Merci d'apporter les chiffres du deuxième trimestre "
    "et les notes de la dernière revue. Si quelqu'un ne peut pas venir, qu'il prévienne l'équipe avant mercredi "
    "soir.",
    "Hier soir, nous avons regardé un documentaire sur les baleines. Certaines parcourent des milliers de "
    "kilomètres chaque année entre les eaux froides où elles se nourrissent et les mers chaudes où naissent "
    "leurs petits. Leur chant s'entend à travers tout un océan.",
    "Le plombier passe samedi matin entre neuf heures et onze heures. Il faut que quelqu'un reste à la maison "
    "pour lui ouvrir. Le robinet de la salle de bains fuit toujours, et le tuyau sous l'évier fait un bruit "
    "bizarre quand la machine à laver tourne.",
    "Les enfants partent en sortie scolaire au musée des sciences la semaine prochaine. Ils ont besoin d'un "
    "pique-nique, d'une gourde et d'une autorisation signée avant lundi. La maîtresse cherche aussi deux parents "
    "pour accompagner les groupes l'après-midi.",
    "J'ai terminé le roman que tu m'as prêté. Le début était un peu lent, mais la fin est magnifique et je ne "
    "m'attendais pas du tout à ce retournement. L'auteur a écrit trois autres livres, et la médiathèque en a "
    "deux, alors j'irai en chercher un vendredi.",
    "Le jardin demande un peu de travail avant l'hiver. Il faut tailler les rosiers, ramasser les feuilles, et "
    "la vieille clôture derrière l'abri commence à pencher. S'il fait beau ce week-end, on pourrait tout faire "
    "en un après-midi avec l'échelle des voisins.",
    "La circulation est difficile ce soir sur le périphérique, à cause d'un accident près de la sortie nord. "
    "Il est conseillé de prendre la route de la côte. Les trains circulent normalement, sauf un léger retard sur "
    "la ligne de l'aéroport.",
    "Organisons les vacances. On pourrait louer une petite maison au bord du lac pendant une semaine en août. "
    "Il y a un marché au village le mardi, un sentier qui fait le tour de l'eau, et des barques à louer à "
    "l'heure quand le vent est calme.",
    "Mon téléphone perd sans arrêt la connexion dans le salon. Il faudrait peut-être rapprocher la box de la "
    "fenêtre, ou acheter un de ces petits répéteurs. L'ordinateur à l'étage n'a aucun problème, c'est assez "
    "étrange.",
    "Joyeux anniversaire ! Nous avons fait un gâteau au chocolat avec des fraises, et il doit rester des bougies "
    "dans le tiroir à côté du four. Tout le monde arrive à dix-neuf heures, on a encore le temps de ranger et de "
    "mettre la table.",
]
ENGLISH_VOICES = ["en-us", "en-gb", "en-gb-x-rp", "en-029", "en-gb-scotland"]
FRENCH_VOICES = ["fr", "fr-be", "fr-ch"]
VARIANTS = ["", "+m3", "+f2", "+m1", "+f4"]
SPEEDS = [150, 175, 135, 195, 165]

WAKE_VARIANTS = ["", "+m3", "+f2", "+f4"]
WAKE_SPEEDS = [130, 165, 200]


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def read_wav(path: Path) -> np.ndarray:
    """16 kHz mono int16 samples of a WAV file written by this module."""
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def sox_read(path: Path) -> np.ndarray:
    """Any audio file sox reads (FLAC, WAV at any rate), as 16 kHz mono int16 (some FLAC files trip libsndfile)."""
    done = subprocess.run(["sox", "-V1", str(path), "-t", "raw", "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed",
                           "-"], capture_output=True, check=True)
    return np.frombuffer(done.stdout, dtype="<i2").copy()


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """Write int16 samples as a 16 kHz mono WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.asarray(samples, dtype="<i2").tobytes())
    return path


def speak(cache: Path, text: str, voice: str, speed: int, trimmed: bool = True) -> np.ndarray:
    """espeak-ng speech at 16 kHz (tests/speech.py's, cached by content), the silence at both ends cut if `trimmed`."""
    samples = read_wav(espeak(cache, text, voice, speed))
    return trim(samples) if trimmed else samples


def flite(cache: Path, text: str, voice: str, stretch: float = 1.0) -> np.ndarray:
    """flite speech (Debian's flite: voices kal, kal16, awb, rms, slt) at 16 kHz, cached, untrimmed; flite's voices
    are heard by Moonshine and microWakeWord as people are, espeak-ng's are not."""
    key = hashlib.sha1(f"{voice}|{stretch}|{text}".encode()).hexdigest()[:16]
    out = cache / f"flite-{key}.wav"
    if not out.exists():
        raw = cache / f"flite-raw-{key}.wav"
        _run("flite", "-voice", voice, "--setf", f"duration_stretch={stretch}", "-t", text, "-o", str(raw))
        _run("sox", "-R", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(out))  # -R: the same dither each run
        raw.unlink()
    return read_wav(out)


def max_frame_energy(x: np.ndarray, frame: int = 2048) -> float:
    """The highest energy of a `frame`-sample piece (the whole clip when shorter)."""
    n = len(x) // frame * frame
    if n == 0:
        return float((x.astype(np.float64) ** 2).sum()) or 1e-12
    return float((x[:n].astype(np.float64).reshape(-1, frame) ** 2).sum(axis=1).max())


def peak_mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, start: int, peak: float) -> np.ndarray:
    """Picovoice's speech-to-intent rule (its benchmark/mixer.py): noise from sample `start` (repeated as needed)
    scaled so the highest 2048-sample frame energy of speech over noise is `snr_db`, the mix normalised to `peak`
    of full scale; float64 in the input's scale."""
    part = np.resize(noise[start:], len(speech)).astype(np.float64)
    scale = np.sqrt(max_frame_energy(speech) / (max_frame_energy(part) * 10 ** (snr_db / 10) + 1e-12))
    mixed = speech.astype(np.float64) + scale * part
    full = 32767 if speech.dtype == np.int16 else 1.0
    return mixed * (peak * full / max(np.abs(mixed).max(), 1e-9))


def trim(x: np.ndarray, floor_db: float = -50.0) -> np.ndarray:
    """Cut silence (below floor_db dBFS in 10 ms pieces) at both ends."""
    n = len(x) // 160 * 160
    rms = np.sqrt((x[:n].astype(np.float64).reshape(-1, 160) ** 2).mean(axis=1)) / 32768
    loud = np.nonzero(rms > 10 ** (floor_db / 20))[0]
    return x[loud[0] * 160:(loud[-1] + 1) * 160] if len(loud) else x[:0]


def silence(seconds: float) -> np.ndarray:
    """Digital silence."""
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def sox_noise(cache: Path, kind: str, seconds: float, level_dbfs: float) -> np.ndarray:
    """sox-made noise (whitenoise, pinknoise, brownnoise) scaled to an RMS level in dBFS."""
    out = cache / f"{kind}-{seconds:.0f}.wav"
    if not out.exists():
        _run("sox", "-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(out), "synth", f"{seconds}", kind,
             "vol", "0.5")
    x = read_wav(out).astype(np.float64)
    x *= 32768 * 10 ** (level_dbfs / 20) / np.sqrt((x ** 2).mean())
    return np.clip(x, -32768, 32767).astype(np.int16)


def pad_to_frames(x: np.ndarray) -> np.ndarray:
    """Zero-pad to whole 80 ms frames."""
    return np.concatenate([x, np.zeros((-len(x)) % FRAME, dtype=np.int16)]).astype(np.int16)


def talk_renders(hours: float, seed: int = 1) -> list[tuple[str, int, str]]:
    """(voice, speed, text) renders cycling texts, voices, variants and speeds until `hours` of speech."""
    per_pass = [(ENGLISH_VOICES, t) for t in ENGLISH] + [(FRENCH_VOICES, t) for t in FRENCH]
    rng = np.random.default_rng(seed)
    plan, words = [], 0
    for n in itertools.count():
        for i in rng.permutation(len(per_pass)):
            voices, text = per_pass[i]
            voice = voices[(i + n) % len(voices)] + VARIANTS[(i + 2 * n) % len(VARIANTS)]
            plan.append((voice, SPEEDS[(i + n) % len(SPEEDS)], text))
            words += len(text.split())
            # ~17 words per sentence at ~165 words a minute: about 10 s of speech per 28 words.
            if words / 165 / 60 >= hours:
                return plan
    return plan  # pragma: no cover


def talk(cache: Path, seconds: float, gap: tuple[float, float] = (0.3, 1.2), long_pause: float = 0.0,
         seed: int = 1) -> np.ndarray:
    """Everyday speech (English and French, rotating voices) of about `seconds`, with pauses of `gap` seconds
    between sentences; with `long_pause` > 0, one in four is that long instead (people talking now and then)."""
    rng = np.random.default_rng(seed)
    parts, total = [], 0
    for voice, speed, text in talk_renders(seconds / 3600 * 1.3 + 0.01, seed):
        for sentence in _sentences(text):
            x = speak(cache, sentence, voice, speed)
            pause = long_pause if long_pause and rng.random() < 0.25 else rng.uniform(*gap)
            parts += [x, silence(pause)]
            total += len(x) + int(pause * RATE)
            if total >= seconds * RATE:
                return pad_to_frames(np.concatenate(parts)[: int(seconds * RATE)])
    return pad_to_frames(np.concatenate(parts))


def _sentences(text: str) -> list[str]:
    """The text's sentences, each up to its end mark (. ? !)."""
    return [s.strip() for s in re.findall(r"[^.?!]+[.?!]*", text) if s.strip()]


def wake_phrases(cache: Path, short: bool, text: str = "hey jarvis") -> list[tuple[str, np.ndarray]]:
    """A wake phrase across voices, variants and speeds: (label, samples)."""
    voices = ENGLISH_VOICES[1:3] if short else ENGLISH_VOICES
    variants = WAKE_VARIANTS[:1] if short else WAKE_VARIANTS
    speeds = WAKE_SPEEDS[1:2] if short else WAKE_SPEEDS
    return [(f"{v}{var} {s}", speak(cache, text, v + var, s))
            for v in voices for var in variants for s in speeds]


def frames_of(x: np.ndarray) -> list[bytes]:
    """80 ms frames of int16 samples (the last one zero-padded)."""
    x = pad_to_frames(x)
    return [x[i:i + FRAME].tobytes() for i in range(0, len(x), FRAME)]


def sox_float(path: Path) -> np.ndarray:
    """sox_read's samples as float32 in [-1, 1)."""
    return sox_read(path).astype(np.float32) / 32768


def named_mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, name: str) -> np.ndarray:
    """peak_mix at 0.99 of full scale as float32, the noise taken from an offset seeded by the file's `name`."""
    start = zlib.crc32(name.encode()) % max(len(noise) - len(speech), 1)
    return peak_mix(speech, noise, snr_db, start=start, peak=0.99).astype(np.float32)
