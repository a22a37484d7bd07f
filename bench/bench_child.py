"""Transitional: bench/common.py's timed_interleaved under its old name, until the benchmarks import bench.common."""

from common import timed_interleaved  # noqa: F401
