"""The words of re-order requests per language: one source for the intent parser and the grammars.

The recognisers' grammars (grammar.py) and the parser (intent.py) are both built from these
tables, so a phrase the recogniser can output is a phrase the parser understands.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Lexicon:
    """Words and phrases of one language (all lower case, as spoken)."""

    language: str
    reorder_cues: tuple[str, ...]
    """Verbs and frames that make an utterance a request ("reorder", "we're out of", "il me faut")."""
    cancel_phrases: tuple[str, ...]
    """Phrases that cancel the pending order or the current request."""
    prefixes: tuple[str, ...]
    """Politeness and fillers before the verb ("could you", "peux-tu")."""
    suffixes: tuple[str, ...]
    """Politeness and fillers at the end ("please", "for me", "s'il te plaît")."""
    ones: tuple[str, ...]
    """Articles and partitives that mean a quantity of one ("a", "some", "du", "des")."""
    units: tuple[str, ...]
    """Containers said between the quantity and the product ("bottles", "paquets")."""
    unit_links: tuple[str, ...]
    """Words linking a unit to the product ("of", "de")."""
    more: tuple[str, ...]
    """Words between a quantity and its product that change nothing ("more", "extra", "de plus")."""
    joins: tuple[str, ...]
    """Words joining items ("and", "et", "plus")."""
    numbers: tuple[str, ...]
    """Quantity words 1..20 in order (index + 1 is the value), for grammars."""
    yes: tuple[str, ...]
    """Spoken confirmation (only used when voice confirmation is on)."""
    no: tuple[str, ...]
    """Spoken refusal."""
    tail: tuple[str, ...] = ()
    """Phrases after the items ("to my order", "à la commande")."""
    fillers: tuple[str, ...] = ()
    """Words the parser skips anywhere but grammars leave out: short words that would let a
    grammar decoder match any noise ("uh", "the", "my")."""
    negations: tuple[str, ...] = ()
    """Words that turn a request around ("don't order milk", "ne commande pas de lait"): an
    utterance with one outside a request or cancel phrase is refused, never ordered."""
    other_words: tuple[str, ...] = ()
    """Out-of-domain words a grammar decoder may land on instead of forcing a request out of
    speech that is not one ("weather", "music"): a garbage model made of words."""
    usual: tuple[str, ...] = ()
    """Phrases that ask for the last accepted order again ("the usual", "comme d'habitude"),
    said alone or after a request verb and politeness."""


ENGLISH = Lexicon(
    language="en",
    reorder_cues=("reorder", "order", "order more", "buy", "get me", "get", "get us", "i need",
                  "we need", "i want", "we want", "i'd like", "we're out of", "we are out of", "we're running out of",
                  "out of", "add", "put", "restock", "send", "send me", "send us", "purchase", "pick up", "i'll have",
                  "can i have", "can i get", "could i get", "may i have", "give me", "more"),
    cancel_phrases=("cancel", "cancel that", "cancel it", "cancel the order", "never mind", "nevermind", "forget it",
                    "stop", "no thanks", "abort"),
    prefixes=("could you", "can you", "would you", "will you", "please", "could you please", "can you please",
              "don't forget to", "remember to"),
    suffixes=("please", "for me", "for us", "thanks", "thank you", "now", "again", "today"),
    ones=("a", "an", "one", "some", "another", "a few"),
    units=("bottle", "bottles", "pack", "packs", "packet", "packets", "box", "boxes", "bag", "bags", "carton",
           "cartons", "can", "cans", "jar", "jars", "loaf", "loaves", "roll", "rolls", "dozen", "tub", "tubs"),
    unit_links=("of",),
    more=("more", "extra"),
    joins=("and", "plus", "also", "and also", "as well as", "with"),
    numbers=("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
             "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"),
    yes=("yes", "yeah", "yep", "confirm", "order it", "go ahead"),
    no=("no", "nope", "don't"),
    tail=("to my order", "to the order", "to the list", "to my list", "to my cart", "to the cart"),
    fillers=("hey", "okay", "ok", "i think", "hmm", "um", "uh", "so", "oh", "other", "new", "fresh", "of the", "the",
             "my", "our", "jarvis", "alexa"),
    negations=("don't", "dont", "do not", "not", "no", "never", "didn't", "doesn't", "won't", "wouldn't",
               "shouldn't", "without", "instead of", "nothing"),
    usual=("the usual", "my usual", "our usual", "same as last time", "the same as last time", "same again",
           "the same again", "same as before", "the same as before", "the same thing as last time"),
    other_words=tuple("""what weather like today tomorrow play music song radio news timer alarm minutes hello tell
        joke turn lights light volume call time who where when why which there here this that were been does have
        going come look know think love good great nice little week year thank sorry kids school work home house
        food dinner lunch breakfast game show movie watch remind weekend traffic score open close stop start
        sing story game email message text phone""".split()),
)

FRENCH = Lexicon(
    language="fr",
    reorder_cues=("commande", "commander", "recommande", "recommander", "achète", "acheter", "rachète", "racheter",
                  "il me faut", "il nous faut", "il faut", "j'ai besoin de", "on a besoin de", "nous avons besoin de",
                  "je voudrais", "je veux", "on voudrait", "j'aimerais", "ajoute", "ajouter", "rajoute", "prends",
                  "reprends", "on n'a plus de", "il n'y a plus de", "plus de", "on a plus de", "mets", "remets"),
    cancel_phrases=("annule", "annuler", "annule ça", "annule la commande", "laisse tomber", "oublie", "oublie ça",
                    "arrête", "stop", "non merci", "pas la peine"),
    prefixes=("peux-tu", "pourrais-tu", "tu peux", "est-ce que tu peux", "pouvez-vous", "s'il te plaît",
              "s'il vous plaît", "merci de", "tu pourrais", "n'oublie pas de", "n'oubliez pas de"),
    suffixes=("s'il te plaît", "s'il vous plaît", "merci", "pour moi", "pour nous", "stp", "svp", "encore",
              "aujourd'hui"),
    ones=("un", "une", "du", "de la", "de l'", "des", "un peu de", "quelques"),
    units=("bouteille", "bouteilles", "paquet", "paquets", "boîte", "boîtes", "sac", "sacs", "pack", "packs",
           "brique", "briques", "pot", "pots", "rouleau", "rouleaux", "douzaine", "douzaines", "carton", "cartons",
           "sachet", "sachets", "bocal", "bocaux"),
    unit_links=("de", "d'"),
    more=("autre", "autres", "encore", "de plus"),
    joins=("et", "plus", "avec", "ainsi que", "et aussi"),
    numbers=("un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze",
             "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf", "vingt"),
    yes=("oui", "ouais", "confirme", "vas-y", "d'accord"),
    no=("non", "pas"),
    tail=("à la commande", "à ma commande", "à la liste", "à ma liste", "au panier"),
    fillers=("euh", "bon", "alors", "dis", "hé", "nouveau", "nouvelle", "le", "la", "les", "l'", "mon", "ma", "mes",
             "notre", "nos", "jarvis", "alexa"),
    negations=("ne", "n'", "pas", "jamais", "sans", "rien", "aucun", "aucune", "plutôt que", "au lieu de"),
    usual=("comme d'habitude", "la même chose que la dernière fois", "pareil que la dernière fois",
           "comme la dernière fois", "la même chose", "la commande habituelle", "ma commande habituelle"),
)

LEXICONS = {"en": ENGLISH, "fr": FRENCH}
_ELIDED = {"l", "d", "qu", "j", "n", "s", "m", "t", "c", "jusqu", "lorsqu", "puisqu"}


def lexicon_for(locale: str) -> Lexicon:
    """The lexicon of a locale ("en-US" → English)."""
    return LEXICONS[locale.split("-")[0].lower()]


def fold(text: str) -> str:
    """Lower case, no accents, ligatures split ("Œufs" → "oeufs"), curly apostrophes straightened."""
    text = text.lower().replace("œ", "oe").replace("æ", "ae").replace("’", "'").replace("`", "'")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def tokens(text: str) -> list[str]:
    """Folded words: elisions split after the apostrophe ("d'orange" → "d'", "orange"), hyphens and punctuation
    as breaks.

    Commas survive as their own token: they separate items as "and" does.
    """
    text = fold(text)
    for mark in ".;:!?()\"[]{}":
        text = text.replace(mark, " ")
    text = text.replace(",", " , ").replace("re-order", "reorder").replace("-", " ")
    words: list[str] = []
    for word in text.split():
        head, mark, rest = word.partition("'")
        if mark and head in _ELIDED:  # French elision: "d'orange" → "d'", "orange"
            words.append(head + "'")
            if rest:
                words.append(rest)
        else:
            words.append(word.strip("'"))
    return [w for w in words if w]
