"""What the device says, one file per language: device/messages/<language>.toml.

Each file names its espeak-ng voice, its phrases (read-back instructions, outcomes) and every
refusal reason in words — the device's own (`rejected`) and the store's (`order-status`). A new
language is one more file with the same keys; a file that lacks a key or a `{placeholder}` is
refused when first read, naming the file and the key. A reason no file knows is said as `other`,
never as the raw code inside a sentence of another language.
"""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from device.errors import ConfigError

MESSAGES = Path(__file__).resolve().parents[1] / "messages"
"""The folder of the messages files."""
REFERENCE = "en"
"""The language whose file every other must match, key for key."""


@dataclass(frozen=True)
class Phrasebook:
    """The words of one language."""

    language: str
    voice: str
    """espeak-ng voice name."""
    phrases: dict[str, str]
    reasons: dict[str, str]

    def reason(self, code: str) -> str:
        """A refusal reason in words ("too-late" → "it is too late to cancel"); unknown codes as `other`."""
        return self.reasons.get(code, self.reasons["other"])

    def say(self, key: str, **values: str) -> str:
        """A phrase with its values filled in; a `reason` value is put in words first."""
        if "reason" in values:
            values = {**values, "reason": self.reason(values["reason"])}
        return self.phrases[key].format(**values)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _read(path: Path) -> Phrasebook:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        book = Phrasebook(data["language"], data["voice"], dict(data["phrases"]), dict(data["reasons"]))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"messages file {path} cannot be used ({type(exc).__name__}: {exc}); it needs language, "
                          f"voice, [phrases] and [reasons] like {MESSAGES / (REFERENCE + '.toml')}") from None
    if book.language != path.stem:
        raise ConfigError(f"messages file {path} says language = {book.language!r}; name it {book.language}.toml")
    return book


def check_against(book: Phrasebook, reference: Phrasebook, path: Path) -> None:
    """Every key of the reference, with the same placeholders; raises ConfigError naming the first missing one."""
    for table in ("phrases", "reasons"):
        mine, theirs = getattr(book, table), getattr(reference, table)
        for key, text in theirs.items():
            if key not in mine:
                raise ConfigError(f"messages file {path} has no [{table}] {key} (see {REFERENCE}.toml)")
            if _fields(mine[key]) != _fields(text):
                raise ConfigError(f"messages file {path}: [{table}] {key} must use "
                                  f"{', '.join(sorted('{' + f + '}' for f in _fields(text))) or 'no placeholders'}")


@lru_cache(maxsize=None)
def phrasebooks(folder: Path = MESSAGES) -> dict[str, Phrasebook]:
    """Every language of `folder`, each checked against the reference language."""
    books = {path.stem: _read(path) for path in sorted(folder.glob("*.toml"))}
    if REFERENCE not in books:
        raise ConfigError(f"messages folder {folder} has no {REFERENCE}.toml")
    for language, book in books.items():
        check_against(book, books[REFERENCE], folder / f"{language}.toml")
    return books


def phrasebook(locale: str) -> Phrasebook:
    """The words of a locale ("fr-FR" → fr.toml), English when its language has no file."""
    books = phrasebooks()
    return books.get(locale.split("-")[0].lower(), books[REFERENCE])
