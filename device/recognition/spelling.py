"""Which tokens may come next: a word automaton walked byte by byte, against a model's vocabulary.

The grammar's words are spelled in UTF-8 bytes, lower case; a model's tokens are byte strings
of any length ("▁milk", "mil", "k,", "<0xC3>"). A position is a place inside the spelling of a
sentence: a state of the word automaton and how much of the next word has been spelled. From a
position, `Speller.allowed` gives every token whose bytes continue some sentence, the position
each leads to and the grammar words it completes — found by walking the vocabulary's byte trie
and the spelling together, once per position (cached).

Between words a separator is required: a space, or punctuation (",", ".", "?", "!", ";", ":",
"-"), any number of them within a token, but never two tokens of separators alone in a row
("." then "..."): the model may prefer endless "..." to the words it is forced towards, and a
beam that only spins on punctuation never finishes a sentence. After a word ending in an
apostrophe ("d'", "l'") no separator is needed ("d'eau"). A grammar word may hold a hyphen
("rez-de-chaussée", also read with spaces); inside it the hyphen is a letter; "50%" may be written
"50 %". Numbers may be spelled as digits: the word "twelve" may be read as "12", and comes out as
"twelve". Case is ignored (a capital that is not ASCII, split across tokens, too: "Œufs"); "’" is
read as "'".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from device.language.automaton import WordAutomaton

SEPARATORS = frozenset(b" ,.?!;:-")
NUMBER_WORDS = {
    "en": ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
           "seventeen eighteen nineteen twenty").split(),
    "fr": "un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize".split()
    + [""] * 3 + ["vingt"],
}


def normalise_token(raw: bytes) -> bytes:
    """A token's bytes as the grammar spells: lower case, composed accents (NFC), "’" as "'";
    part-characters kept as they are."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.lower()
    return normalise_text(text).encode("utf-8")


def normalise_text(text: str) -> str:
    """Lower case, NFC ("é" as one character, as models write it), "’" as "'"."""
    return unicodedata.normalize("NFC", text.lower().replace("’", "'"))


def digit_aliases(language: str) -> dict[str, str]:
    """Number words 1–20 that may be heard as digits: {"twelve": "12"}."""
    return {w: str(i + 1) for i, w in enumerate(NUMBER_WORDS.get(language, ())) if w}


@dataclass
class _Position:
    state: int
    children: dict[int, int]
    end: tuple[str, int] | None  # the word spelled so far, and the state after it
    root: bool


class Speller:
    """Spells a word automaton for one model vocabulary; `allowed` is cached per position."""

    def __init__(self, automaton: WordAutomaton, vocabulary: Sequence[bytes], aliases: dict[str, str] | None = None,
                 trie: dict | None = None) -> None:
        self.automaton = automaton
        self.positions: list[_Position] = []
        self._roots: dict[int, int] = {}
        self._seps: dict[int, int] = {}  # state -> its root after a token of separators alone
        self._parent: dict[int, tuple[int, int]] = {}  # position -> (position before it, byte)
        aliases = aliases or {}
        for state in range(len(automaton.arcs)):
            self._spell_state(state, aliases)
            root = self.positions[self._roots[state]]
            self._seps[state] = len(self.positions)
            self.positions.append(_Position(state, root.children, None, True))  # same spellings onward
        self.start = self._roots[0]
        self._trie = trie if trie is not None else vocabulary_trie(vocabulary)
        self._cache: dict[int, Allowed] = {}
        self._shared: dict[int, _Part] = {}

    def _spell_state(self, state: int, aliases: dict[str, str]) -> None:
        root = self._new(state, root=True)
        self._roots[state] = root
        spelled: dict[bytes, str] = {}
        for word, dst in self.automaton.arcs[state].items():
            spelled_as = normalise_text(word)
            surfaces = [spelled_as.encode("utf-8")]
            if "-" in spelled_as:  # "rez-de-chaussée" may also be written "rez de chaussée"
                surfaces.append(spelled_as.replace("-", " ").encode("utf-8"))
            capital = spelled_as[:1].upper() + spelled_as[1:]
            if not spelled_as[:1].isascii() and capital != spelled_as:
                # "Œufs" may come as b" \xc5" + b"\x92ufs": a part-character no lower-casing can fix
                surfaces.append(capital.encode("utf-8"))
            if spelled_as.endswith("%") and spelled_as[:-1].isdigit():  # "50%", also "50 %" (French spacing)
                surfaces.append(f"{spelled_as[:-1]} %".encode("utf-8"))
            if word in aliases:
                surfaces.append(aliases[word].encode("utf-8"))
            for surface in surfaces:
                if surface in spelled and spelled[surface] != word:
                    continue  # two words spelled alike from here: the first keeps the spelling
                spelled[surface] = word
                node = root
                for byte in surface:
                    nxt = self.positions[node].children.get(byte)
                    if nxt is None:
                        nxt = self._new(state)
                        self.positions[node].children[byte] = nxt
                        self._parent[nxt] = (node, byte)
                    node = nxt
                self.positions[node].end = (word, dst)

    def _new(self, state: int, root: bool = False) -> int:
        self.positions.append(_Position(state, {}, None, root))
        return len(self.positions) - 1

    # -- walking ----------------------------------------------------------------------------------
    def step(self, position: int, byte: int) -> tuple[int, str | None] | None:
        """The position after one more byte, and the word it completed (or None); None if no sentence continues so."""
        p = self.positions[position]
        if byte in SEPARATORS and not (byte in p.children and not p.root):
            if p.root:
                return self._seps[p.state], None
            if p.end is not None:
                return self._roots[p.end[1]], p.end[0]
            return None
        child = p.children.get(byte)
        if child is not None:
            return child, None
        if p.end is not None and p.end[0].endswith("'"):  # "d'" + "eau": no separator after an elision
            after = self.step(self._roots[p.end[1]], byte)
            if after is not None:
                return after[0], p.end[0]
        return None

    def can_end(self, position: int) -> bool:
        """Whether the sentence may end here."""
        p = self.positions[position]
        if p.root:
            return p.state in self.automaton.finals
        return p.end is not None and p.end[1] in self.automaton.finals

    def last_word(self, position: int) -> str | None:
        """The word being spelled at an end position (completed by the end of the sentence)."""
        p = self.positions[position]
        return None if p.root or p.end is None else p.end[0]

    def partial_word(self, position: int) -> tuple[str, ...]:
        """The word being spelled at `position`: ("lumi…",) half-way, ("milk",) once whole; () at a word boundary."""
        end, spelled = self.positions[position].end, bytearray()
        while position in self._parent:
            position, byte = self._parent[position]
            spelled.insert(0, byte)
        text = spelled.decode("utf-8", "replace")
        if not text:
            return ()
        return (end[0],) if end is not None and normalise_text(end[0]) == text else (text + "…",)

    def allowed(self, position: int) -> Allowed:
        """Every token allowed next from `position`: ids, the position after each, the words each completes."""
        cached = self._cache.get(position)
        if cached is not None:
            return cached
        p = self.positions[position]
        inner_separator = any(b in SEPARATORS for b in p.children)  # "rez-de-…": the hyphen is a letter here
        own = self._walk(position, separators=p.root or inner_separator)
        if p.root or p.end is None or inner_separator:
            result = Allowed(own, None, ())
        else:
            # After a complete word, a token that starts with a separator goes on from the next
            # word's root exactly as it would from there: spelled once per state, shared.
            result = Allowed(own, self._after_separator(p.end[1]), (p.end[0],))
        self._cache[position] = result
        return result

    def _after_separator(self, state: int) -> _Part:
        part = self._shared.get(state)
        if part is None:
            part = self._walk(self._roots[state], separators=True, only_separators=True)
            self._shared[state] = part
        return part

    def _walk(self, position: int, separators: bool, only_separators: bool = False) -> _Part:
        """Tokens from `position` by a joint walk of the vocabulary trie and the spelling. Without
        `separators`, tokens that start with one are left out (`_after_separator` has them)."""
        ids: list[int] = []
        nexts: list[int] = []
        words: list[tuple[str, ...]] = []
        stack: list[tuple[dict, int, tuple[str, ...]]] = []
        p = self.positions[position]
        spinning = position == self._seps.get(p.state)  # no second token of separators alone
        if only_separators:
            firsts: set[int] | frozenset[int] | dict = SEPARATORS
        elif p.end is not None and p.end[0].endswith("'"):
            firsts = self._trie  # "d'" + any word
        else:
            firsts = set(p.children) | (SEPARATORS if separators else set())
        for byte in firsts:
            child = self._trie.get(byte) if byte != -1 else None
            if child is None or (not separators and not only_separators and byte in SEPARATORS):
                continue
            stack.append(({byte: child}, position, ()))
        while stack:
            node, pos, done = stack.pop()
            for byte, child in node.items():
                if byte == -1:
                    continue
                moved = self.step(pos, byte)
                if moved is None:
                    continue
                npos, word = moved
                ndone = done + (word,) if word is not None else done
                if spinning and npos == position and not ndone:
                    stack.append((child, npos, ndone))
                    continue
                for token in child.get(-1, ()):
                    ids.append(token)
                    nexts.append(npos)
                    words.append(ndone)
                stack.append((child, npos, ndone))
        return _Part(np.array(ids, dtype=np.int32), np.array(nexts, dtype=np.int32), words)

    def warm(self, limit: int = 200_000) -> int:
        """Compute `allowed` for every position reachable at a token boundary (up to `limit`); returns how many."""
        todo, seen = [self.start], {self.start}
        while todo and len(seen) < limit:
            for n in self.allowed(todo.pop()).nexts.tolist():
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return len(seen)


@dataclass
class _Part:
    ids: np.ndarray
    nexts: np.ndarray
    words: list[tuple[str, ...]]


class Allowed:
    """The tokens allowed from one position: its own, then (after a complete word) the shared ones
    that start with a separator, whose completed words begin with that word."""

    __slots__ = ("ids", "nexts", "_own", "_shared", "_prefix")

    def __init__(self, own: _Part, shared: _Part | None, prefix: tuple[str, ...]) -> None:
        self._own, self._shared, self._prefix = own, shared, prefix
        if shared is None or not len(shared.ids):
            self.ids, self.nexts = own.ids, own.nexts
        else:
            self.ids = np.concatenate([own.ids, shared.ids])
            self.nexts = np.concatenate([own.nexts, shared.nexts])

    def __len__(self) -> int:
        return len(self.ids)

    def words(self, j: int) -> tuple[str, ...]:
        """The grammar words that token j completes."""
        n = len(self._own.ids)
        if j < n:
            return self._own.words[j]
        assert self._shared is not None
        return self._prefix + self._shared.words[j - n]


def vocabulary_trie(vocabulary: Sequence[bytes]) -> dict:
    """A byte trie of the normalised vocabulary; key -1 holds the token ids ending at a node."""
    trie: dict = {}
    for token, raw in enumerate(vocabulary):
        surface = normalise_token(raw)
        if not surface:
            continue
        node = trie
        for byte in surface:
            node = node.setdefault(byte, {})
        node.setdefault(-1, []).append(token)
    return trie
