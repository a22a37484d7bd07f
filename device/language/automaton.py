"""Grammars as word automata: built from phrase templates, made deterministic and minimal.

A recognition grammar here is a finite set of word sequences, usually far too many to list
(a Rhino context of 167 expressions is 120 million sentences) but a small automaton: states
joined by arcs that each read one word. `Builder` assembles a non-deterministic automaton from
sequences, choices and optional parts; `Builder.compile()` returns the minimal deterministic
automaton (`WordAutomaton`) that the constrained search walks one token at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Phrase = Sequence[str]


class Builder:
    """A non-deterministic word automaton under construction (arcs may read no word)."""

    def __init__(self) -> None:
        self._arcs: list[list[tuple[str | None, int]]] = [[]]
        self.start = 0
        self.finals: set[int] = set()

    def state(self) -> int:
        """A new state."""
        self._arcs.append([])
        return len(self._arcs) - 1

    def arc(self, src: int, word: str | None, dst: int) -> None:
        """An arc reading `word` (None: reading nothing)."""
        self._arcs[src].append((word, dst))

    def phrase(self, src: int, words: Phrase, dst: int | None = None) -> int:
        """Read `words` in order from `src`; returns the state after the last one."""
        for i, word in enumerate(words):
            nxt = dst if (dst is not None and i == len(words) - 1) else self.state()
            self.arc(src, word, nxt)
            src = nxt
        if not words and dst is not None:
            self.arc(src, None, dst)
            return dst
        return src

    def choice(self, src: int, phrases: Iterable[Phrase], optional: bool = False) -> int:
        """Read one of `phrases` (or nothing, when optional); returns the joining state."""
        dst = self.state()
        for words in phrases:
            self.phrase(src, words, dst)
        if optional:
            self.arc(src, None, dst)
        return dst

    def compile(self) -> WordAutomaton:
        """The minimal deterministic automaton reading the same word sequences."""
        return _minimise(*_determinise(self._arcs, self.start, self.finals))


@dataclass(frozen=True)
class WordAutomaton:
    """A minimal deterministic word automaton: state 0 is the start."""

    arcs: tuple[dict[str, int], ...]
    """For each state, the words it may read and the state each leads to."""
    finals: frozenset[int]
    """States where a sentence may end."""

    @property
    def start(self) -> int:
        return 0

    def accepts(self, words: Iterable[str]) -> bool:
        """Whether this word sequence is a sentence of the grammar."""
        state: int | None = 0
        for word in words:
            state = self.arcs[state].get(word) if state is not None else None
            if state is None:
                return False
        return state in self.finals

    def vocabulary(self) -> set[str]:
        """Every word an arc reads."""
        return {w for arcs in self.arcs for w in arcs}

    def count(self, limit: int = 10**12) -> int:
        """How many sentences (capped at `limit`); the automaton must be acyclic."""
        memo: dict[int, int] = {}

        def paths(s: int) -> int:
            if s not in memo:
                memo[s] = min(limit, (s in self.finals) + sum(paths(d) for d in self.arcs[s].values()))
            return memo[s]

        return paths(0)


@dataclass(frozen=True)
class WordRoles:
    """Which of a grammar's words say what is asked for, and which only carry it.

    `meaning`: words that change the request when misheard (a Rhino context's slot values, the catalogue's
    products, quantities, units and answers); `carrier`: the words around them ("brew a", "can I get",
    "reorder", "please"). A word used both ways is a carrier. Recognisers forgive a sentence whose free
    transcript differs from it in carrier words only (recognition.rejection.carrier_only)."""

    meaning: frozenset[str] = frozenset()
    carrier: frozenset[str] = frozenset()

    @classmethod
    def of(cls, meaning: Iterable[str], carrier: Iterable[str]) -> WordRoles:
        """Roles from the words of each kind (a word of both kinds is a carrier)."""
        carriers = frozenset(carrier)
        return cls(frozenset(meaning) - carriers, carriers)


def _closure(arcs: list[list[tuple[str | None, int]]], states: Iterable[int]) -> frozenset[int]:
    seen = set(states)
    todo = list(seen)
    while todo:
        for word, dst in arcs[todo.pop()]:
            if word is None and dst not in seen:
                seen.add(dst)
                todo.append(dst)
    return frozenset(seen)


def _determinise(arcs: list[list[tuple[str | None, int]]], start: int,
                 finals: set[int]) -> tuple[list[dict[str, int]], set[int]]:
    """Subset construction."""
    first = _closure(arcs, [start])
    index = {first: 0}
    order = [first]
    table: list[dict[str, int]] = []
    dfa_finals: set[int] = set()
    i = 0
    while i < len(order):
        subset = order[i]
        moves: dict[str, set[int]] = {}
        for s in subset:
            for word, dst in arcs[s]:
                if word is not None:
                    moves.setdefault(word, set()).add(dst)
        row: dict[str, int] = {}
        for word, dsts in moves.items():
            target = _closure(arcs, dsts)
            if target not in index:
                index[target] = len(order)
                order.append(target)
            row[word] = index[target]
        table.append(row)
        if subset & finals:
            dfa_finals.add(i)
        i += 1
    return table, dfa_finals


def _minimise(table: list[dict[str, int]], finals: set[int]) -> WordAutomaton:
    """Moore's partition refinement; dead states (no way to a final) are dropped first."""
    alive = set(finals)
    changed = True
    while changed:
        changed = False
        for s, row in enumerate(table):
            if s not in alive and any(d in alive for d in row.values()):
                alive.add(s)
                changed = True
    if 0 not in alive:
        return WordAutomaton(({},), frozenset())
    rows = {s: {w: d for w, d in table[s].items() if d in alive} for s in alive}
    block = {s: int(s in finals) for s in alive}
    while True:
        signatures: dict[tuple, int] = {}
        new_block = {}
        for s in sorted(alive):
            sig = (block[s], tuple(sorted((w, block[d]) for w, d in rows[s].items())))
            new_block[s] = signatures.setdefault(sig, len(signatures))
        if len(signatures) == len(set(block.values())):
            block = new_block
            break
        block = new_block
    # Renumber so that the start is 0 and states follow in breadth-first order (stable output).
    number = {block[0]: 0}
    blocks = [block[0]]  # block of each new state number
    representative = {block[0]: 0}
    for s in alive:
        representative.setdefault(block[s], s)
    out: list[dict[str, int]] = []
    k = 0
    while k < len(blocks):
        rep = representative[blocks[k]]
        row = {}
        for word in sorted(rows[rep]):
            b = block[rows[rep][word]]
            if b not in number:
                number[b] = len(number)
                blocks.append(b)
            row[word] = number[b]
        out.append(row)
        k += 1
    final_blocks = {block[s] for s in finals if s in alive}
    return WordAutomaton(tuple(out), frozenset(number[b] for b in final_blocks))



def jsgf(automaton: WordAutomaton, known=lambda word: True, name: str = "context") -> str:
    """The automaton as a right-linear JSGF grammar (pocketsphinx), arcs with unknown words left out."""
    lines = ["#JSGF V1.0;", f"grammar {name};", "public <s0> = <q0>;"]
    for state, arcs in enumerate(automaton.arcs):
        alts = [f"{word} <q{dst}>" for word, dst in sorted(arcs.items()) if known(word)]
        if state in automaton.finals:
            alts.append("<NULL>")
        lines.append(f"<q{state}> = {' | '.join(alts) if alts else '<VOID>'};")
    return "\n".join(lines) + "\n"
