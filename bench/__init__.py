"""The benchmarks: `python -m bench SECTION [options]` measures one section of BENCHMARKS.md and writes it."""
