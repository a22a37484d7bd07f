"""Transitional: bench/corpus.py under its old name, until the benchmarks import it as bench.corpus."""

from corpus import *  # noqa: F401,F403
from corpus import trim  # noqa: F401
