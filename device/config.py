"""Device settings: one frozen dataclass per stage, read once from TOML and validated at start-up.

Nothing deeper in the loop reads a file or the environment: the composition root (app.py) hands
each stage its own section.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from device.errors import ConfigError

log = logging.getLogger(__name__)

LOCALES = ("en-US", "fr-FR")
CONFIG_ENV = "REORDER_CONFIG"
DEFAULT_CONFIG_PATHS = (Path("/etc/reorder/device.toml"),)


def _state_dir() -> Path:
    if os.environ.get("STATE_DIRECTORY"):  # set by systemd's StateDirectory=
        return Path(os.environ["STATE_DIRECTORY"])
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "reorder"


def _default_device_id() -> str:
    name = socket.gethostname().split(".")[0].lower()
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name) or "reorder-device"


@dataclass(frozen=True)
class DeviceSettings:
    """Who the device is."""

    id: str = field(default_factory=_default_device_id)
    """Device id used in MQTT topics and as the MQTT client id (default: the hostname)."""
    locale: Literal["en-US", "fr-FR"] = "en-US"
    """Language of requests and read-backs."""


@dataclass(frozen=True)
class AudioSettings:
    """Microphone and speaker."""

    input_device: str = ""
    """sounddevice input: a device index or part of its name; empty = the system default."""
    output_device: str = ""
    """sounddevice output for read-backs and earcons; empty = the system default."""
    speech_rate: int = 175
    """How fast the device speaks (words per minute, 80-400; espeak-ng's -s)."""
    volume: int = 100
    """Loudness of speech and sounds (percent, 1-200; 100 = as rendered)."""


Sensitivity = Literal["low", "normal", "high"]
SENSITIVITIES = ("low", "normal", "high")
DEFAULT_KEYWORDS = ("okay_nabu",)
"""Chosen by measurement on real recordings by a stated rule (BENCHMARKS.md, "Wake words: the default chosen by
measurement")."""


@dataclass(frozen=True)
class WakeSettings:
    """Wake-word detection."""

    engine: Literal["microwakeword", "openwakeword", "porcupine"] = "microwakeword"
    """Wake-word engine: microwakeword (Apache-2.0 models), openwakeword (its pretrained models are
    CC BY-NC-SA 4.0: non-commercial), porcupine (needs a Picovoice AccessKey)."""
    keywords: tuple[str, ...] = DEFAULT_KEYWORDS
    """The wake words, all listened for at once (each wake names the word that woke it).
    microWakeWord: okay_nabu, hey_jarvis, alexa, hey_mycroft or a model .json path;
    openWakeWord: hey_jarvis, alexa, hey_mycroft or an .onnx path;
    porcupine: built-in keywords (e.g. "jarvis") or .ppn paths."""
    keyword: str = ""
    """One wake word instead of `keywords` (older config files; `--wake-word`); empty = `keywords`."""
    sensitivity: Sensitivity | float | dict[str, Sensitivity | float] = "normal"
    """low, normal or high (thresholds measured per word, BENCHMARKS.md), for every word or as a
    table per word ({okay_nabu = "high"}); a number 0-1 is Porcupine's own sensitivity (other
    engines: below 0.5 low, 0.5 normal, above high)."""
    threshold: float | dict[str, float] = 0.0
    """Score (0-1) from which a frame counts as the wake word, for every word or as a table per
    word; 0 = the one `sensitivity` gives."""
    vad_gate: bool = True
    """Score the wake word only while the voice-activity detector hears speech (with 0.96 s of
    pre-roll): a quiet room costs almost nothing."""
    refractory_seconds: float = 2.0
    """After a wake, further wakes are ignored for this long (seconds of audio)."""
    access_key_file: str = ""
    """File holding the Picovoice AccessKey (mode 0600); PICOVOICE_ACCESS_KEY is used otherwise."""

    def words(self) -> tuple[str, ...]:
        """The wake words listened for: `keyword` when set, else `keywords`."""
        return (self.keyword,) if self.keyword else self.keywords

    def sensitivity_of(self, word: str) -> Sensitivity | float:
        """The sensitivity of one word (a table's entry, else "normal"; or the one value for all)."""
        if isinstance(self.sensitivity, dict):
            return self.sensitivity.get(word, "normal")
        return self.sensitivity

    def threshold_of(self, word: str) -> float:
        """The explicit threshold of one word; 0 = take it from the sensitivity."""
        if isinstance(self.threshold, dict):
            return self.threshold.get(word, 0.0)
        return self.threshold


@dataclass(frozen=True)
class RecognizerSettings:
    """Speech recognition of the request after the wake word."""

    engine: Literal["auto", "moonshine", "whisper", "vosk", "pocketsphinx"] = "auto"
    """auto = Moonshine (en-US) or Whisper (fr-FR) when its model is prepared and the board has ~1 GB,
    else Vosk when a Vosk model for the locale is configured or installed, else pocketsphinx (en-US).
    The log says which and why (device/engines.py)."""
    vosk_model: str = ""
    """Vosk model directory; empty = the installer's default for the locale under /opt/reorder/models."""
    min_confidence: float = 0.85
    """Transcripts below this confidence (0-1) are refused with reason low-confidence."""
    cross_check: bool = True
    """pocketsphinx only: decode each request a second time, half a frame later, and refuse it
    (low-confidence) when the two decodings mean different things. Halves wrong read-backs
    (BENCHMARKS.md) for one more decode."""
    vad: Literal["auto", "silero", "webrtc"] = "auto"
    """What tells speech from silence to end the request: Silero VAD hears the end of speech through kitchen
    noise, where the WebRTC VAD hears speech until max_utterance_seconds cuts it (BENCHMARKS.md "Real speech").
    auto = Silero with Moonshine and Whisper, WebRTC with pocketsphinx and Vosk (the smallest boards' path)."""
    end_silence_seconds: float = 0.6
    """Trailing silence that ends the request (seconds)."""
    max_utterance_seconds: float = 8.0
    """A request is cut after this long (seconds)."""
    no_speech_seconds: float = 5.0
    """After the wake word, give up when nobody speaks for this long (seconds)."""
    min_speech_seconds: float = 0.25
    """Shorter bursts of sound (a cough, the tail of the wake word) are not a request (seconds)."""
    brief_end_silence_seconds: float = 1.2
    """Trailing silence that ends a request of less than a second of speech, a word alone ("yes", "annule"): longer
    than end_silence_seconds, so a clatter or a voice across the kitchen just before the person speaks does not end
    listening before the request is said (BENCHMARKS.md "Issue 23: a clatter before the request"); a one-word answer
    ends that much later. At most end_silence_seconds: every request ends alike (seconds)."""
    early_start: bool = True
    """Moonshine/Whisper only: start recognising once the request's audio is known (0.24 s after the last
    speech), while the end silence is still being waited for; the same decision, ready sooner
    (recognition.early). Costs a wasted decode when somebody pauses that long mid-request."""
    threads: int = 0
    """Moonshine/Whisper only: CPU threads per model call; 0 = 2 on a board with 4 cores or more (every Pi this
    runs on), else 1, which leaves a core to the wake word and the loop (`model_threads`). Two threads decide the
    same, about a quarter sooner (BENCHMARKS.md "Real speech: end of listening → decision")."""

    second_opinion: Literal["off", "auto", "whisper"] = "off"
    """English (Moonshine) only: when Moonshine refuses a request, Whisper base decodes it too, with the same grammar
    and rejection rule, and its answer is taken at min_confidence + 0.05 (recognition.second_opinion): more requests
    right in kitchen noise for the second model's memory and, on the requests that need it, about a second more.
    whisper = always (one line when its model is missing); auto = when the board has the memory for both
    (device/engines.py); off = never (BENCHMARKS.md "Issue 23: a second opinion")."""

    def model_threads(self, cores: int | None = None) -> int:
        """The threads a model call uses: `threads`, or for 0 the choice above on this many cores (this machine's)."""
        if self.threads:
            return self.threads
        return 2 if (cores if cores is not None else os.cpu_count() or 1) >= 4 else 1


@dataclass(frozen=True)
class ConfirmationSettings:
    """Read-back, button language and purchase guards."""

    timeout_seconds: float = 15.0
    """No press within this long after the read-back cancels the order (seconds)."""
    long_press_seconds: float = 1.5
    """A press at least this long cancels (seconds)."""
    undo_seconds: float = 30.0
    """After an order is sent, a press within this window undoes it (seconds)."""
    speak: bool = True
    """Read the items and total aloud with espeak-ng."""
    max_order_total: float = 150.0
    """Orders whose total is above this are refused (over-total-cap); 0 = no cap."""
    max_orders_per_day: int = 10
    """More orders than this in 24 hours are refused (daily-limit); 0 = no limit."""
    repeat_guard_hours: float = 12.0
    """The same SKU ordered again within this many hours needs a second press; 0 = off."""
    repeat_guard: Literal["ask", "refuse", "off"] = "ask"
    """What a repeat does: ask for a second press, refuse it (repeat-guard), or nothing."""
    voice_confirmation: bool = False
    """Also accept "yes"/"oui" as confirmation (never for totals above voice_max_total)."""
    voice_max_total: float = 20.0
    """Above this total, only the button confirms even when voice confirmation is on."""


@dataclass(frozen=True)
class GpioSettings:
    """Buttons and LEDs (BCM pin numbers)."""

    pin_factory: str = ""
    """gpiozero pin factory: empty = gpiozero's choice on a Pi, "mock" = simulated pins (laptops)."""
    confirm_button: int = 17
    """Pin of the confirm button (to ground; internal pull-up)."""
    mute_button: int = 0
    """Pin of a mute switch/button (0 = none)."""
    mute_is_switch: bool = False
    """True for a latching switch (closed = muted), False for a push button that toggles."""
    led: Literal["rgb", "separate"] = "rgb"
    """One RGB LED on red/green/blue pins, or separate LEDs on the same pins."""
    red: int = 5
    """Red LED pin (0 = none)."""
    green: int = 6
    """Green LED pin (0 = none)."""
    blue: int = 13
    """Blue LED pin (0 = none)."""
    active_high: bool = True
    """False for common-anode LEDs."""


@dataclass(frozen=True)
class MqttSettings:
    """The broker the orders go to."""

    broker: str = "mqtt://127.0.0.1:1883"
    """mqtt://host:port or mqtts://host:port."""
    topic_prefix: str = "reorder/v1"
    """Prefix of every topic."""
    ca_file: str = ""
    """CA certificate (PEM) for mqtts://; empty = the system's trust store."""
    cert_file: str = ""
    """Client certificate (PEM) for mutual TLS."""
    key_file: str = ""
    """Client private key (PEM, mode 0600)."""
    username: str = ""
    """Broker username (default: none)."""
    password_file: str = ""
    """File holding the broker password (mode 0600)."""
    allow_insecure: bool = False
    """Allow plain mqtt:// to a broker that is not on this machine."""
    keepalive_seconds: int = 30
    """MQTT keep-alive (seconds)."""
    protocol: Literal["5", "3.1.1"] = "5"
    """MQTT version; 3.1.1 for brokers without MQTT 5 (the demo's embedded amqtt)."""


@dataclass(frozen=True)
class HomeAssistantSettings:
    """Home Assistant MQTT discovery: the device, its state and its counters in HA (off by default)."""

    enabled: bool = False
    """Publish HA discovery configs (retained) for this device's state and counters."""
    discovery_prefix: str = "homeassistant"
    """HA's discovery prefix (HA's MQTT setting of the same name)."""
    broker: str = ""
    """A household broker for HA (mqtt://host:port or mqtts://host:port): it gets the state, the
    counters and the discovery configs, never an order. Empty = the [mqtt] broker."""
    username: str = ""
    """Household broker username (default: none)."""
    password_file: str = ""
    """File holding the household broker password (mode 0600)."""
    ca_file: str = ""
    """CA certificate (PEM) for an mqtts:// household broker; empty = the system's trust store."""
    allow_insecure: bool = False
    """Allow plain mqtt:// to a household broker that is not on this machine (a home LAN)."""
    mute_command: bool = False
    """Offer mute as an HA switch: the device listens on {prefix}/devices/{id}/mute for "ON"/"OFF".
    Whoever may write that topic can unmute the microphone (a closed latching mute switch still wins)."""


@dataclass(frozen=True)
class StorageSettings:
    """Files the device keeps."""

    outbox: str = ""
    """Outbox database; empty = $STATE_DIRECTORY or ~/.local/state/reorder/outbox.sqlite3."""
    outbox_capacity: int = 1000
    """Orders the outbox holds before it refuses new ones out loud (outbox-full)."""
    catalog: str = ""
    """A fixed catalogue file; empty = the retained catalogue from the broker."""
    catalog_cache: str = ""
    """Where the last good broker catalogue is kept for offline reboots; empty = next to the outbox."""

    def outbox_path(self) -> Path:
        """The outbox file."""
        return Path(self.outbox).expanduser() if self.outbox else _state_dir() / "outbox.sqlite3"

    def catalog_cache_path(self) -> Path:
        """The catalogue cache file."""
        if self.catalog_cache:
            return Path(self.catalog_cache).expanduser()
        return self.outbox_path().with_name("catalog.json")


@dataclass(frozen=True)
class Settings:
    """Everything the device needs, validated."""

    device: DeviceSettings = field(default_factory=DeviceSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    wake: WakeSettings = field(default_factory=WakeSettings)
    recognizer: RecognizerSettings = field(default_factory=RecognizerSettings)
    confirmation: ConfirmationSettings = field(default_factory=ConfirmationSettings)
    gpio: GpioSettings = field(default_factory=GpioSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    home_assistant: HomeAssistantSettings = field(default_factory=HomeAssistantSettings)
    source: str = "built-in defaults"
    """Where the settings came from (for error messages)."""

    @property
    def language(self) -> str:
        """Two-letter language of the locale ("en", "fr")."""
        return self.device.locale.split("-")[0]


SECTIONS: dict[str, type] = {
    "device": DeviceSettings, "audio": AudioSettings, "wake": WakeSettings, "recognizer": RecognizerSettings,
    "confirmation": ConfirmationSettings, "gpio": GpioSettings, "mqtt": MqttSettings, "storage": StorageSettings,
    "home_assistant": HomeAssistantSettings,
}
_HINTS = {name: typing.get_type_hints(cls) for name, cls in SECTIONS.items()}
RETIRED = {("audio", "block_seconds"): "frames are always 80 ms"}
"""Keys older config files may still have: ignored with a warning, so an update never stops a device."""


def _shape(hint: Any) -> str:
    """What a value of this type looks like, for error messages."""
    if get_origin(hint) is Literal:
        return ", ".join(map(str, get_args(hint)))
    if get_origin(hint) is dict:
        return "a table {word = value}"
    return {float: "a number", int: "a whole number", str: "a string", bool: "true or false"}.get(hint, str(hint))


def _coerce(section: str, key: str, value: Any, hint: Any, source: str) -> Any:
    """Check one value against its type hint; returns it (ints widened to floats)."""
    where = f"[{section}] {key} in {source}"
    origin = get_origin(hint)
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, choices))} (got {value!r})")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false (got {value!r})")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be a whole number (got {value!r})")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number (got {value!r})")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string (got {value!r})")
        return value
    if origin is tuple:  # a TOML list of strings
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings (got {value!r})")
        return tuple(value)
    if origin is dict:  # a TOML table {name = value}
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table (got {value!r})")
        return {str(k): _coerce(section, f"{key}.{k}", v, get_args(hint)[1], source) for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):  # one of several shapes: the first that fits
        for member in get_args(hint):
            try:
                return _coerce(section, key, value, member, source)
            except ConfigError:
                continue
        raise ConfigError(f"{where} must be {' or '.join(_shape(m) for m in get_args(hint))} (got {value!r})")
    raise ConfigError(f"{where}: unsupported setting type")  # pragma: no cover


def _check_wake(w: WakeSettings, need: Any) -> None:
    """[wake]: at least one word, each named once; per-word tables name configured words; values in range."""
    words = w.words()
    need(bool(words) and all(words), "wake", "keywords", "must name at least one wake word (e.g. [\"okay_nabu\"])")
    need(len(set(words)) == len(words), "wake", "keywords", f"names a word twice (got {list(words)})")
    for key in ("sensitivity", "threshold"):
        table = getattr(w, key)
        if isinstance(table, dict):
            stray = sorted(set(table) - set(words))
            need(not stray, "wake", key, f"names {', '.join(stray)}, which is not among the wake words {list(words)}")
    for word in words:
        t, sense = w.threshold_of(word), w.sensitivity_of(word)
        need(0 <= t < 1, "wake", "threshold", f"must be between 0 and 1 (got {t} for {word}; 0 = from sensitivity)")
        need(isinstance(sense, str) or 0 < sense <= 1, "wake", "sensitivity",
             f"must be low, normal, high or a number 0-1 (got {sense} for {word})")
    need(w.refractory_seconds >= 0, "wake", "refractory_seconds", "must not be negative")


def _check_ranges(s: Settings) -> None:
    """Value checks that types alone cannot express."""
    src = s.source

    def need(ok: bool, section: str, key: str, what: str) -> None:
        if not ok:
            raise ConfigError(f"[{section}] {key} in {src} {what}")

    d = s.device
    need(bool(d.id) and all(c.isalnum() or c in "-_" for c in d.id) and len(d.id) <= 64, "device", "id",
         f"must be 1-64 letters, digits, '-' or '_' (got {d.id!r})")
    _check_wake(s.wake, need)
    r = s.recognizer
    need(0 <= r.min_confidence <= 1, "recognizer", "min_confidence", "must be between 0 and 1")
    need(0.1 <= r.end_silence_seconds <= 3, "recognizer", "end_silence_seconds", "must be between 0.1 and 3")
    need(1 <= r.max_utterance_seconds <= 30, "recognizer", "max_utterance_seconds", "must be between 1 and 30")
    need(0.5 <= r.no_speech_seconds <= 30, "recognizer", "no_speech_seconds", "must be between 0.5 and 30")
    need(0 <= r.min_speech_seconds < 2, "recognizer", "min_speech_seconds", "must be between 0 and 2")
    need(0 <= r.brief_end_silence_seconds <= 5, "recognizer", "brief_end_silence_seconds", "must be between 0 and 5")
    need(0 <= r.threads <= 16, "recognizer", "threads", "must be a whole number between 0 (automatic) and 16")
    c = s.confirmation
    need(3 <= c.timeout_seconds <= 120, "confirmation", "timeout_seconds", "must be between 3 and 120")
    need(0.5 <= c.long_press_seconds <= 10, "confirmation", "long_press_seconds", "must be between 0.5 and 10")
    need(0 <= c.undo_seconds <= 600, "confirmation", "undo_seconds", "must be between 0 and 600")
    need(0 <= c.voice_max_total < 1e9, "confirmation", "voice_max_total", "must be a positive amount")
    a = s.audio
    need(80 <= a.speech_rate <= 400, "audio", "speech_rate", f"must be 80-400 words per minute (got {a.speech_rate})")
    need(1 <= a.volume <= 200, "audio", "volume", f"must be 1-200 percent (got {a.volume})")
    need(c.max_order_total >= 0, "confirmation", "max_order_total", "must not be negative")
    need(c.max_orders_per_day >= 0, "confirmation", "max_orders_per_day", "must not be negative")
    need(c.repeat_guard_hours >= 0, "confirmation", "repeat_guard_hours", "must not be negative")
    g = s.gpio
    pins = {k: getattr(g, k) for k in ("confirm_button", "mute_button", "red", "green", "blue")}
    for key, pin in pins.items():
        need(0 <= pin <= 27, "gpio", key, f"must be a BCM pin 1-27, or 0 for none (got {pin})")
    need(g.confirm_button != 0, "gpio", "confirm_button", "is required: every order needs a press")
    used = [p for p in pins.values() if p]
    need(len(used) == len(set(used)), "gpio", "pins", "must all differ (two settings name the same pin)")
    m = s.mqtt
    try:
        url = urlsplit(m.broker)
    except ValueError:
        raise ConfigError(f"[mqtt] broker in {src} is not a URL (got {m.broker!r})") from None
    need(url.scheme in ("mqtt", "mqtts") and bool(url.hostname), "mqtt", "broker",
         f"must look like mqtt://host:port or mqtts://host:port (got {m.broker!r})")
    try:
        _ = url.port  # reading it raises ValueError on a bad port
    except ValueError:
        need(False, "mqtt", "broker", f"has a bad port (got {m.broker!r})")
    need(bool(m.topic_prefix) and not any(ch in m.topic_prefix for ch in "#+") and not m.topic_prefix.endswith("/"),
         "mqtt", "topic_prefix", "must be a topic without wildcards or trailing '/'")
    need(5 <= m.keepalive_seconds <= 3600, "mqtt", "keepalive_seconds", "must be between 5 and 3600")
    need(s.storage.outbox_capacity >= 1, "storage", "outbox_capacity", "must be at least 1")
    h = s.home_assistant
    need(bool(h.discovery_prefix) and all(c.isalnum() or c in "-_/" for c in h.discovery_prefix)
         and not h.discovery_prefix.startswith("/") and not h.discovery_prefix.endswith("/"), "home_assistant",
         "discovery_prefix", f"must be a topic such as homeassistant (got {h.discovery_prefix!r})")
    if h.broker:
        try:
            ha_url = urlsplit(h.broker)
            ok = ha_url.scheme in ("mqtt", "mqtts") and bool(ha_url.hostname) and (ha_url.port or 1) > 0
        except ValueError:
            ok = False
        need(ok, "home_assistant", "broker", f"must look like mqtt://host:port or mqtts://host:port (got {h.broker!r})")


def from_mapping(data: dict[str, Any], source: str) -> Settings:
    """Build validated Settings from a TOML-shaped mapping; raises ConfigError naming the key."""
    sections = {}
    for name, value in data.items():
        if name not in SECTIONS:
            raise ConfigError(f"unknown section [{name}] in {source}; known: {', '.join(SECTIONS)}")
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] in {source} must be a table of settings")
        hints = _HINTS[name]
        known = {f.name for f in dataclasses.fields(SECTIONS[name])}
        for key in value:
            if (name, key) in RETIRED:
                log.warning("[%s] %s in %s is no longer used (%s); delete that line", name, key, source,
                            RETIRED[name, key])
            elif key not in known:
                raise ConfigError(f"unknown key [{name}] {key} in {source}; known: {', '.join(sorted(known))}")
        sections[name] = SECTIONS[name](**{k: _coerce(name, k, v, hints[k], source) for k, v in value.items()
                                           if (name, k) not in RETIRED})
    settings = Settings(**sections, source=source)
    _check_ranges(settings)
    return settings


def load(path: str | Path | None = None) -> Settings:
    """Read the config file (explicit path, $REORDER_CONFIG, /etc/reorder/device.toml) or use defaults."""
    if path is None and os.environ.get(CONFIG_ENV):
        path = os.environ[CONFIG_ENV]
    if path is None:
        path = next((p for p in DEFAULT_CONFIG_PATHS if p.exists()), None)
        if path is None:
            return from_mapping({}, "built-in defaults")
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; give a path to a device.toml "
                          f"(template: firmware_config/device.example.toml)") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return from_mapping(data, f"config file {path}")


def override(settings: Settings, changes: dict[tuple[str, str], Any]) -> Settings:
    """Apply command-line overrides ({(section, key): value}) and validate again."""
    if not changes:
        return settings
    sections = {name: getattr(settings, name) for name in SECTIONS}
    for (name, key), value in changes.items():
        value = _coerce(name, key, value, _HINTS[name][key], "the command line")
        sections[name] = dataclasses.replace(sections[name], **{key: value})
    source = settings.source if settings.source.endswith("command-line flags") else \
        settings.source + " and command-line flags"
    result = Settings(**sections, source=source)
    _check_ranges(result)
    return result
