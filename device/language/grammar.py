"""Recognition grammars from the catalogue and the lexicon (the same tables the parser reads).

A grammar keeps "reorder two bottles of milk" from coming out as anything the household cannot
order. Words a model does not know are left out and reported once, naming the catalogue entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from device.contract.catalogue import Catalogue
from device.language.lexicon import Lexicon, lexicon_for
from device.language.parser import plural_variants

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grammar:
    """Everything a recogniser may hear, for one locale and one catalogue version."""

    locale: str
    catalog_version: int | None
    products: tuple[str, ...]
    """Product names as spoken, singular and plural."""
    lexicon: Lexicon
    catalogue: Catalogue | None = field(default=None, compare=False, repr=False)
    """The catalogue it was built from (recognisers name its entries in warnings)."""

    def words(self) -> set[str]:
        """Every word that appears anywhere in the grammar."""
        return {w for phrase in self.phrases() for w in phrase.split()}

    def phrases(self) -> list[str]:
        """Every phrase of the grammar, each a run of words (for word-list recognisers like Vosk)."""
        lx = self.lexicon
        groups = (lx.reorder_cues, lx.cancel_phrases, lx.prefixes, lx.suffixes, lx.ones, lx.units, lx.unit_links,
                  lx.more, lx.joins, lx.numbers, lx.yes, lx.no, lx.tail, lx.usual, self.products)
        return sorted({_spoken(p) for group in groups for p in group} - {""})

    def other_words(self) -> list[str]:
        """The out-of-domain words of the garbage rule (none that a request uses)."""
        return sorted(set(self.lexicon.other_words) - self.words())

    def vosk_phrases(self) -> list[str]:
        """Vosk's grammar: the phrases, plus "[unk]" so out-of-grammar speech is marked, not forced."""
        return [*self.phrases(), "[unk]"]

    def jsgf(self, known: Callable[[str], bool] = lambda w: True) -> str:
        """A JSGF grammar for pocketsphinx; phrases with words the dictionary lacks are left out."""
        lx = self.lexicon

        def alt(values: Iterable[str]) -> str:
            usable = sorted({_spoken(v) for v in values if _spoken(v) and all(known(w) for w in _spoken(v).split())})
            return "(" + " | ".join(f"({v})" for v in usable) + ")" if usable else "<NULL>"

        usual = alt(lx.usual).replace("<NULL>", "<VOID>")  # no usual phrase the model knows: no such sentence
        products = alt(self.products)
        if products == "<NULL>":
            products = "<VOID>"  # an empty catalogue: no request can match
        # Words outside the domain, so that "what's the weather" comes out as itself (and means
        # nothing) instead of being forced into the nearest request. Measured: short words in
        # this list swallow real requests, so only words of 4 letters or more.
        others = [w for w in self.other_words() if len(w) > 3 and known(w)]
        other = "(" + " | ".join(others) + ")+" if others else "<VOID>"
        return "\n".join([
            "#JSGF V1.0;",
            "grammar reorder;",
            "public <utterance> = <request> | <cancel> | <answer> | <usual> | <other>;",
            f"<other> = {other};",
            "<request> = [<prefix>] [<cue>] <item> [<join> <item> [<join> <item> [<join> <item>]]] [<tail>] "
            "[<suffix>];",
            "<item> = [<quantity>] [<more>] [<unit> <link>] <product>;",
            f"<quantity> = {alt(lx.numbers + lx.ones)};",
            f"<more> = {alt(lx.more)};",
            f"<unit> = {alt(lx.units)};",
            f"<link> = {alt(lx.unit_links)};",
            f"<product> = {products};",
            f"<cue> = {alt(lx.reorder_cues)};",
            f"<join> = {alt(lx.joins)};",
            f"<tail> = {alt(lx.tail)};",
            f"<prefix> = {alt(lx.prefixes)};",
            f"<suffix> = {alt(lx.suffixes)};",
            f"<cancel> = [<prefix>] {alt(lx.cancel_phrases)} [<suffix>];",
            f"<answer> = {alt(lx.yes + lx.no)};",
            f"<usual> = [<prefix>] [<cue>] {usual} [<suffix>];",
            "",
        ])


def _spoken(phrase: str) -> str:
    """A phrase as recognisers spell words: lower case, hyphens as spaces, French elisions kept whole."""
    return " ".join(phrase.lower().replace("-", " ").replace("’", "'").split())


def build(catalogue: Catalogue | None, locale: str) -> Grammar:
    """The grammar for this catalogue in this locale."""
    lexicon = lexicon_for(locale)
    products: set[str] = set()
    for item in catalogue.items if catalogue else ():
        for name in item.names_for(lexicon.language):
            words = tuple(_spoken(name).split())
            products |= {" ".join(v) for v in plural_variants(words, lexicon.language)}
            products.add(" ".join(words))
    return Grammar(locale, catalogue.version if catalogue else None, tuple(sorted(products)), lexicon, catalogue)


def report_unknown_words(grammar: Grammar, catalogue: Catalogue | None, known: Callable[[str], bool],
                         model: str) -> list[str]:
    """Log, once per build, every catalogue name the model cannot hear; returns the lines logged."""
    lines = []
    language = grammar.lexicon.language
    for item in catalogue.items if catalogue else ():
        for name in item.names_for(language):
            missing = [w for w in _spoken(name).split() if not known(w)]
            if missing:
                lines.append(f"catalogue item {item.sku}: the name {name!r} has words the {model} model does not know "
                             f"({', '.join(missing)}); it cannot be recognised — add a synonym made of known words "
                             f"to the catalogue or install a Vosk model for {grammar.locale}")
    for line in lines:
        log.warning(line)
    return lines
