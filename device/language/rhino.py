"""Rhino-style contexts: intents, expressions and slots, as a word automaton plus a slot reader.

A context (Picovoice Rhino's YAML, already loaded into a dict) looks like

    context:
      expressions:
        orderDrink:
          - "[can I get, I want] [a, an] $size:size (please)"
      slots:
        size: ["small", "twelve ounce"]

`[a, b]` is a choice of one, `(words)` or `(a, b)` is optional, `$slot:name` is one value of a
slot list, kept under `name`. The recogniser's sentences are the expressions' sentences; the
intent and slots of a recognised sentence are read back by matching it against the expressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from device.errors import ConfigError
from device.language.automaton import Builder, WordAutomaton, WordRoles

_TOKEN = re.compile(r"\[[^\]]*\]|\([^)]*\)|\$[\w]+:[\w]+|[^\s\[\]()]+")


def _words(text: str) -> list[str]:
    return text.lower().replace("’", "'").split()


@dataclass(frozen=True)
class Element:
    """One piece of an expression: a choice of phrases, optional or not, maybe a slot."""

    phrases: tuple[tuple[str, ...], ...]
    optional: bool = False
    slot: str | None = None


@dataclass(frozen=True)
class Context:
    """The compiled context: its sentences, and the expressions to read intents and slots from."""

    automaton: WordAutomaton
    expressions: tuple[tuple[str, tuple[Element, ...]], ...]

    def roles(self) -> WordRoles:
        """Slot values' words say what is asked for; the expressions' own words carry it."""
        slot: set[str] = set()
        literal: set[str] = set()
        for _, elements in self.expressions:
            for el in elements:
                (slot if el.slot else literal).update(w for p in el.phrases for w in p)
        return WordRoles.of(slot, literal)

    def understand(self, words: tuple[str, ...] | list[str]) -> tuple[str, dict[str, str]] | None:
        """(intent, slots) of a sentence of the context, or None when no expression reads it."""
        for intent, elements in self.expressions:
            slots = _match(elements, 0, tuple(words), 0, {})
            if slots is not None:
                return intent, slots
        return None


def _match(elements: tuple[Element, ...], e: int, words: tuple[str, ...], w: int,
           slots: dict[str, str]) -> dict[str, str] | None:
    if e == len(elements):
        return slots if w == len(words) else None
    el = elements[e]
    for phrase in sorted(el.phrases, key=len, reverse=True):
        if words[w:w + len(phrase)] == phrase:
            found = _match(elements, e + 1, words, w + len(phrase),
                           {**slots, el.slot: " ".join(phrase)} if el.slot else slots)
            if found is not None:
                return found
    if el.optional:
        return _match(elements, e + 1, words, w, slots)
    return None


def parse_expression(text: str, slots: dict[str, list[str]], where: str) -> tuple[Element, ...]:
    """The elements of one expression string."""
    out = []
    for tok in _TOKEN.findall(text):
        if tok.startswith(("[", "(")):
            inner = [p for p in (_words(x) for x in tok[1:-1].split(",")) if p]
            if not inner:
                raise ConfigError(f"{where}: empty {tok!r} in expression {text!r}")
            out.append(Element(tuple(tuple(p) for p in inner), optional=tok.startswith("(")))
        elif tok.startswith("$"):
            kind, _, name = tok[1:].partition(":")
            if kind not in slots:
                raise ConfigError(f"{where}: expression {text!r} uses slot ${kind}, which the slots list lacks")
            out.append(Element(tuple(tuple(_words(v)) for v in slots[kind] if _words(v)), slot=name))
        else:
            out.append(Element(((tok.lower().replace("’", "'"),),)))
    return tuple(out)


def compile_context(data: object, where: str = "context") -> Context:
    """A context from its loaded YAML (`{"context": {"expressions": ..., "slots": ...}}`)."""
    body = data.get("context", data) if isinstance(data, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("expressions"), dict):
        raise ConfigError(f"{where}: expected a 'context' with 'expressions' (a Rhino-style YAML context)")
    slots = body.get("slots") or {}
    if not isinstance(slots, dict) or not all(isinstance(v, list) for v in slots.values()):
        raise ConfigError(f"{where}: 'slots' must map each slot name to a list of phrases")
    slots = {str(k): [str(v) for v in vs] for k, vs in slots.items()}
    b = Builder()
    expressions = []
    for intent, texts in body["expressions"].items():
        if not isinstance(texts, list):
            raise ConfigError(f"{where}: expressions of {intent!r} must be a list of strings")
        for text in texts:
            elements = parse_expression(str(text), slots, where)
            expressions.append((str(intent), elements))
            s = b.start
            for el in elements:
                s = b.choice(s, el.phrases, optional=el.optional)
            b.finals.add(s)
    return Context(b.compile(), tuple(expressions))
