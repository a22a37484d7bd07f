"""One measurement of `python -m bench loop` in a fresh process: `python -m bench.loop_child ROLE JSON-ARGS`.

Prints its result as a JSON line. Each role imports only what it measures, so memory and start-up are a fresh
process's. "As shipped": the default configuration (microWakeWord behind the WebRTC VAD gate), with pocketsphinx.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
FLITE = Path(__file__).resolve().parents[1] / "tests" / "data" / "wakeword" / "okay_nabu-flite-rms.wav"
"""The default wake word said by flite's rms voice (scripts/make-samples), which microWakeWord hears as people;
every request starts with it."""
REQUESTS = [("en-us", "reorder two bottles of milk"), ("en-gb", "order three packs of pasta"),
            ("en-us", "reorder coffee"), ("en-gb", "reorder paper towels")]
"""(voice, text) of requests the sample catalogue and the pocketsphinx grammar both cover."""


def build_device(a: dict, device_id: str, recognizer: str = "pocketsphinx", emit=None, wait: bool = True):
    """The device as shipped (mock pins, the sample catalogue, no spending caps), built as `reorder replay` does."""
    from device import config
    from device.adapters.audio.wav_source import WavSource
    from device.app import build

    settings = config.from_mapping({
        "device": {"id": device_id, "locale": "en-US"}, "mqtt": {"broker": a["broker"]},
        "storage": {"outbox": str(Path(a["workdir"]) / f"{device_id}.sqlite3"), "catalog": a["catalog"]},
        "gpio": {"pin_factory": "mock"}, "recognizer": {"engine": recognizer},
        "confirmation": {"max_orders_per_day": 0, "repeat_guard": "off"},
    }, "python -m bench loop")
    # The source is never read: the roles feed their frames to loop.step themselves.
    device = build(settings, WavSource(FLITE), emit or (lambda e: None), play_audio=False)
    deadline = time.monotonic() + (10 if wait else 0)
    while device.loop.state.value != "idle" and time.monotonic() < deadline:  # BrokerUp: OFFLINE -> IDLE
        device.loop.drain()
        time.sleep(0.02)
    return device


def request_audio(cache: Path, voice: str, text: str):
    """1 s of silence, the flite "okay nabu", 0.8 s, the request (espeak-ng), 1.5 s of silence."""
    import numpy as np

    from bench.corpus import read_wav, silence, speak

    return np.concatenate([silence(1.0), read_wav(FLITE), silence(0.8), speak(cache, text, voice, 165), silence(1.5)])


# -- roles ----------------------------------------------------------------------------------------
def role_listening(a: dict) -> dict:
    """CPU per audio-second, per condition: the shipped wake words ungated, the same as shipped (behind the VAD
    gate), and the whole loop."""
    import itertools

    import numpy as np

    from bench.common import timed_interleaved
    from bench.corpus import frames_of, sox_noise, talk
    from device import config
    from device.app import make_wake_detector

    cache, seconds = Path(a["cache"]), a["seconds"]
    conditions = {
        "digital silence": np.zeros(int(seconds * 16000), dtype=np.int16),
        "pink noise -50 dBFS": sox_noise(cache, "pinknoise", seconds, -50),
        "brown noise -40 dBFS": sox_noise(cache, "brownnoise", seconds, -40),
        "pink noise -30 dBFS (loud fan)": sox_noise(cache, "pinknoise", seconds, -30),
        "talk and pauses": talk(cache, seconds, gap=(1.0, 4.0), long_pause=15.0, seed=1),
    }
    shipped = config.from_mapping({}, "python -m bench loop")
    ungated = config.from_mapping({"wake": {"vad_gate": False}}, "python -m bench loop")

    def fed(detector):  # each detector on its own audio clock: 0.08, 0.16, ...
        clock = itertools.count(0.08, 0.08)
        return lambda frame: detector.process(frame, next(clock))

    device = build_device(a, "bench-listening")
    out = {}
    for name, samples in conditions.items():
        frames = frames_of(samples)
        gated = make_wake_detector(shipped)
        p0, m0 = time.process_time(), time.thread_time()
        cpu = timed_interleaved(frames, {"bare": fed(make_wake_detector(ungated)), "gated": fed(gated),
                                         "loop": device.loop.step})
        background = max(0.0, (time.process_time() - p0) - (time.thread_time() - m0))  # paho, gpiozero
        out[name] = {"audio_seconds": len(frames) * 0.08, "cpu": cpu, "background": background,
                     "open": getattr(gated.engine, "scored", len(frames)) / len(frames)}  # the first word's gate
    device.close()
    return {"conditions": out, "words": list(shipped.wake.words())}


def role_wake(a: dict) -> dict:
    """"okay nabu" detected by the shipped detector (espeak-ng voices, and the flite one), and false wakes on talk."""
    import numpy as np

    from bench.corpus import frames_of, read_wav, silence, talk, wake_phrases
    from device import config
    from device.app import make_wake_detector

    cache = Path(a["cache"])
    detector = make_wake_detector(config.from_mapping({}, "python -m bench loop"))
    t, out = 0.0, {"espeak-ng": [0, 0], "flite": [0, 0]}
    phrases = [("espeak-ng", x) for _, x in wake_phrases(cache, a["short"], "okay nabu")] + [("flite", read_wav(FLITE))]
    for source, x in phrases:  # 2 s before, 2.5 s after; a wake counts up to 1.5 s after the phrase
        window, woke = (t + 2.0, t + 2.0 + len(x) / 16000 + 1.5), False
        for frame in frames_of(np.concatenate([silence(2.0), x, silence(2.5)])):
            t += 0.08
            wake = detector.process(frame, t)
            woke = woke or bool(wake and window[0] <= wake.t <= window[1])
        out[source] = [out[source][0] + woke, out[source][1] + 1]
    false, done, n = 0, 0.0, 0
    while done < a["false_seconds"]:  # in chunks: bounded memory, one continuous stream
        frames = frames_of(talk(cache, min(600.0, a["false_seconds"] - done), seed=100 + n))
        for frame in frames:
            t += 0.08
            false += detector.process(frame, t) is not None
        done, n = done + len(frames) * 0.08, n + 1
    return {"detected": out, "false_wakes": false, "false_seconds": done}


def role_latency(a: dict) -> dict:
    """End of request -> prompt (processing in the loop), and button release -> the broker's PUBACK."""
    from urllib.parse import urlsplit

    from bench.corpus import frames_of, silence
    from tests.support import Subscriber

    store = Subscriber(urlsplit(a["broker"]).port or 1883, "reorder/v1/devices/+/orders")  # else no order is taken
    started = [0.0]  # wall time at the start of the current loop step
    prompts: list = []  # (audio time, processing: wall time since its step started) of each prompt
    said: list = []  # (audio time, seconds) of what the device said: the read-back's length
    device = build_device(a, "bench-latency", emit=lambda e: prompts.append((e.t, time.perf_counter() - started[0]))
                          if e.name == "prompt" else said.append((e.t, e.seconds)) if e.name == "said" else None)
    loop, pin, client = device.loop, device.panel.confirm_button.pin, device.link.client
    sent: dict[int, float] = {}  # mid -> when, for publishes on an orders topic
    acked: dict[int, float] = {}  # mid -> when, for their successful PUBACKs
    real_publish, real_on_publish = client.publish, client.on_publish

    def publish(topic, *args, **kw):
        info = real_publish(topic, *args, **kw)
        if topic.endswith("/orders"):
            sent[info.mid] = time.perf_counter()
        return info

    def on_publish(c, userdata, mid, reason_code, properties):
        if not reason_code.is_failure and getattr(reason_code, "value", 0) != 16:  # 16: no matching subscribers
            acked.setdefault(mid, time.perf_counter())
        real_on_publish(c, userdata, mid, reason_code, properties)

    client.publish, client.on_publish = publish, on_publish
    paced = [0.0]  # 0: as fast as possible; else the wall time of audio time 0 (a frame every 80 ms)

    def step(frame: bytes) -> None:
        if paced[0]:
            time.sleep(max(0.0, paced[0] + loop.t - time.monotonic()))
        started[0] = time.perf_counter()
        loop.step(frame)

    quiet, results = silence(0.08).tobytes(), []
    for k in range(a["requests"]):
        voice, text = REQUESTS[k % len(REQUESTS)]
        audio = request_audio(Path(a["cache"]), voice, text)
        speech_end = loop.t + (len(audio) / 16000 - 1.5)
        n = len(prompts)
        for frame in frames_of(audio):
            step(frame)
        while len(prompts) == n and loop.t < speech_end + 8.0:
            step(quiet)
        if len(prompts) == n:
            results.append({"request": text, "prompt": False})
        else:
            prompt_t, processing = prompts[-1]
            endpoint = prompt_t - speech_end
            readback = next((seconds for t, seconds in said if t >= prompt_t - 1e-6), 0.0)
            while loop.t < prompt_t + readback + 0.2:  # after the read-back, a 0.16 s press, paced like a microphone
                step(quiet)
            paced[0] = time.monotonic() - loop.t
            pin.drive_low()
            for _ in range(2):
                step(quiet)
            pin.drive_high()
            released, mids = time.perf_counter(), set(sent)
            while not set(acked) - mids and loop.t < prompt_t + readback + 3.0:
                step(quiet)
            paced[0] = 0.0
            ack = min((acked[m] for m in set(acked) - mids), default=None)
            results.append({"request": text, "prompt": True, "endpoint": endpoint, "processing": processing,
                            "release_to_puback": None if ack is None else ack - released})
        while loop.state.value != "idle" and loop.t < speech_end + 30.0:
            step(quiet)
    device.close()
    store.close()
    return {"requests": results}


def role_memory(a: dict) -> dict:
    """Peak RSS of a fresh process: Python and numpy, or the loop as shipped after it heard one request."""
    from bench.common import peak_rss_mb

    out: dict = {"what": a["what"], "events": []}
    if a["what"] == "python":
        import numpy  # noqa: F401
    else:
        from bench.corpus import frames_of

        heard: list = []
        device = build_device(a, "bench-memory", recognizer=a["what"], emit=heard.append)
        for frame in frames_of(request_audio(Path(a["cache"]), *REQUESTS[0])):
            device.loop.step(frame)
        out["events"] = [e.name for e in heard if e.name in ("wake", "transcript", "prompt")]
        device.close()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def role_startup(a: dict) -> dict:
    """Process start -> the loop's first step (models loaded, one frame fed): from the moment the parent spawned
    this process (its own clock cannot see the interpreter starting), and in parts from this module's first line."""
    t_import = time.perf_counter()
    device = build_device(a, "bench-start", wait=False)
    t_built = time.perf_counter()
    device.loop.step(bytes(2560))
    t_ready, process_to_ready = time.perf_counter(), time.monotonic() - a["spawned"]
    device.close()
    return {"imports": t_import - T0, "build": t_built - t_import, "first_step": t_ready - t_built,
            "process_to_ready": process_to_ready}


ROLES = {"listening": role_listening, "wake": role_wake, "latency": role_latency, "memory": role_memory,
         "startup": role_startup}

if __name__ == "__main__":
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(ROLES[sys.argv[1]](json.loads(sys.argv[2]))), flush=True)
