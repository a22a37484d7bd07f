"""Every sentence a household may say to the device, as one word automaton per catalogue.

Built from the same lexicon tables and product names as the parser (stages.intent) and the
pocketsphinx/Vosk grammars (stages.grammar), so any sentence the recogniser can output is one
the parser understands:

    utterance = request | request request        ("we're out of yogurt, order four boxes of yogurt")
              | [prefix] cancel [suffix] | yes | no
    request   = [filler] [prefix] [cue] item ([join] item){0,3} [tail] [suffix]
    item      = [quantity] [more] [unit link] [article] product
    quantity  = one … twenty (or 1 … 20) | a, an, some, another…

`roles` says which of those words name what is ordered and which only carry a request (recognisers forgive a
garbled carrier: recognition.rejection.carrier_only).
"""

from __future__ import annotations

from device.language.automaton import Builder, WordAutomaton, WordRoles
from device.language.grammar import Grammar, _spoken

MAX_ITEMS = 4
ARTICLES = {"en": ("the", "my", "our"), "fr": ("le", "la", "les", "l'", "mon", "ma", "mes")}
OPENERS = {"en": ("hey", "okay", "ok", "so", "oh", "um", "uh", "jarvis", "alexa"),
           "fr": ("euh", "bon", "alors", "dis", "hé", "jarvis", "alexa")}


def _words(phrases: tuple[str, ...] | list[str]) -> list[list[str]]:
    return sorted({tuple(_spoken(p).split()) for p in phrases} - {()})  # type: ignore[arg-type]  # tuples, as lists


def build(grammar: Grammar) -> WordAutomaton:
    """The minimal word automaton of every sentence of this grammar."""
    lx = grammar.lexicon
    lang = lx.language
    b = Builder()
    products = _words(list(grammar.products))
    numbers = _words(list(lx.numbers)) + [[str(i + 1)] for i, w in enumerate(lx.numbers) if len(_spoken(w).split()) > 1]
    quantity = numbers + _words(list(lx.ones))

    def item(src: int) -> int:
        s = b.choice(src, quantity, optional=True)
        s = b.choice(s, _words(list(lx.more)), optional=True)
        unit = b.choice(s, _words(list(lx.units)))
        measured = b.choice(unit, _words(list(lx.unit_links)))
        b.arc(s, None, measured)  # the unit is optional
        s3 = b.choice(measured, [[a] for a in ARTICLES.get(lang, ())], optional=True)
        if not products:
            return b.state()  # an empty catalogue: no request can be completed
        return b.choice(s3, products)

    def request(src: int) -> int:
        s = b.choice(src, [[w] for w in OPENERS.get(lang, ())], optional=True)
        s = b.choice(s, _words(list(lx.prefixes)), optional=True)
        s = b.choice(s, _words(list(lx.reorder_cues)), optional=True)
        s = item(s)
        end = b.state()
        b.arc(s, None, end)
        for _ in range(MAX_ITEMS - 1):
            s = b.choice(s, _words(list(lx.joins)), optional=True)
            s = item(s)
            b.arc(s, None, end)
        s = b.choice(end, _words(list(lx.tail)), optional=True)
        return b.choice(s, _words(list(lx.suffixes)), optional=True)

    first = request(b.start)
    b.finals.add(first)
    b.finals.add(request(first))  # two clauses: "we're out of yogurt, order four boxes of yogurt"
    s = b.choice(b.start, _words(list(lx.prefixes)), optional=True)
    s = b.choice(s, _words(list(lx.cancel_phrases)))
    b.finals.add(b.choice(s, _words(list(lx.suffixes)), optional=True))
    b.finals.add(b.choice(b.start, _words(list(lx.yes + lx.no))))
    usual = tuple(getattr(lx, "usual", ()))
    if usual:
        s = b.choice(b.start, _words(list(lx.prefixes)), optional=True)
        s = b.choice(s, _words(list(lx.reorder_cues)), optional=True)
        s = b.choice(s, _words(list(usual)))
        b.finals.add(b.choice(s, _words(list(lx.suffixes)), optional=True))
    return b.compile()


def roles(grammar: Grammar) -> WordRoles:
    """Products, quantities, units, cancelling, answers and "the usual" say what is asked for; cues, politeness,
    joins, articles and openers carry it ("more" changes nothing: the parser reads "two more milk" as "two milk")."""
    lx = grammar.lexicon
    lang = lx.language

    def words(*groups: tuple[str, ...] | list[str]) -> set[str]:
        return {w for group in groups for phrase in group for w in _spoken(phrase).split()}

    meaning = words(grammar.products, lx.numbers, lx.ones, lx.units, lx.cancel_phrases, lx.yes, lx.no, lx.usual)
    carrier = words(lx.reorder_cues, lx.prefixes, lx.suffixes, lx.unit_links, lx.more, lx.joins, lx.tail,
                    ARTICLES.get(lang, ()), OPENERS.get(lang, ()))
    return WordRoles.of(meaning, carrier)
