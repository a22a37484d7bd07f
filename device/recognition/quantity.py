"""Quantities are never guessed: a number in the grammar's sentence must be one the model heard freely.

The constrained search always returns the nearest sentence of the grammar, so when the speech
said "je voudrais de l'autre paquet de riz" (or the model heard it so) the nearest sentence may
be "je voudrais deux paquets de riz", confidently — and the household would hear a quantity
read back that nobody said. The free transcript is the model's own reading: a number of the
sentence (two to twenty, as a word or digits) must appear in it, as that word, its digits or a
listed homophone the model writes for it ("to" for "two"); otherwise the sentence is refused.
The other way round too: a number the free transcript holds ("peux-tu commander douze paquets")
must be one of the sentence's, or the sentence (". . . de l'autre paquet", one by default) is
refused. One ("un", "une", "a") is not checked: it is also the article.
"""

from __future__ import annotations

import re

from device.recognition.spelling import NUMBER_WORDS, normalise_text

HOMOPHONES = {
    "en": {"two": ("to", "too"), "four": ("for",), "eight": ("ate",)},
    "fr": {"deux": ("d'eux",), "six": ("si", "ci", "scie"), "sept": ("set", "cette"), "dix": ("dis", "dit"),
           "vingt": ("vin", "vint", "vain")},
}
"""Words the model writes for a number said alone, which the free transcript may hold instead of it."""

_WORD = re.compile(r"[\w'’%-]+")


def _numbers(language: str) -> dict[str, int]:
    """Number words two to twenty of a language, and their digits, with their values."""
    out: dict[str, int] = {}
    for value, word in enumerate(NUMBER_WORDS.get(language, ()), start=1):
        if word and value >= 2:
            out[word] = value
    out.update({str(v): v for v in range(2, 21)})
    return out


def _free_words(free_text: str) -> set[str]:
    said = set()
    for token in _WORD.findall(normalise_text(free_text)):
        token = token.strip("-'%")
        said.add(token)
        said.update(part for part in re.split(r"[-']", token) if part)
    return said


def unsaid_quantity(words: tuple[str, ...], free_text: str, language: str) -> str | None:
    """The first number (two to twenty) of the free transcript that is not one of the sentence's, or None."""
    numbers = _numbers(language)
    in_sentence = {numbers[w] for w in words if w in numbers}
    for token in _WORD.findall(normalise_text(free_text)):
        for part in [token.strip("-'%"), *re.split(r"[-']", token)]:
            if part in numbers and numbers[part] not in in_sentence:
                return part
    return None


def unheard_quantity(words: tuple[str, ...], free_text: str, language: str) -> str | None:
    """The first number of `words` that the free transcript does not hold (as a word, digits or a homophone),
    or None when every number was heard."""
    numbers = _numbers(language)
    said = _free_words(free_text)
    heard_values = {numbers[w] for w in said if w in numbers}
    homophones = HOMOPHONES.get(language, {})
    for word in words:
        value = numbers.get(word)
        if value is None:
            continue
        if value in heard_values or any(h in said for h in homophones.get(word, ())):
            continue
        return word
    return None
