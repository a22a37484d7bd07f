"""`python -m bench SECTION [options]`: run one benchmark; it writes its section of BENCHMARKS.md.

Run it from the repository with the project's venv; `python -m bench SECTION --help` lists a section's options.
The scripts/ names (scripts/bench, scripts/fault-cycle, scripts/bench_*.py) are aliases of these commands.
"""

from __future__ import annotations

import importlib
import sys

SECTIONS = {
    "loop": ("bench.loop", "the device loop: listening cost, gating, wake word, latency, memory, start-up"),
    "accuracy": ("bench.bench_accuracy", "exact intents per locale and SNR on synthetic requests"),
    "faults": ("bench.faults", "delivery under broker, network and process faults; backlog; bad input"),
    "store": ("bench.store", "the store backend on PostgreSQL: orders/s end to end"),
    "realspeech": ("bench.bench_realspeech", "Moonshine on real English commands (--data DIR)"),
    "french": ("bench.bench_french", "Whisper on real French commands (--data DIR)"),
    "wakeword": ("bench.bench_wakeword", "wake-word detection, false wakes and cost per engine (--positives DIR:WORD)"),
}


def main(argv: list[str] | None = None) -> int:
    """Run the named section's benchmark with the remaining arguments; its exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in SECTIONS:
        print("usage: python -m bench SECTION [options]\n\nsections:", file=sys.stderr)
        for name, (_, what) in SECTIONS.items():
            print(f"  {name:<11} {what}", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    try:
        module = importlib.import_module(SECTIONS[argv[0]][0])
    except ModuleNotFoundError as exc:
        print(f"bench: {exc.name} is not importable from {sys.executable}; run it with the project's venv, "
              f"e.g. `.venv/bin/python -m bench {argv[0]}` (scripts/dev setup makes it)", file=sys.stderr)
        return 2
    sys.argv = [f"python -m bench {argv[0]}", *argv[1:]]  # argparse's prog, and the command each section shows
    return module.main() or 0


if __name__ == "__main__":
    sys.exit(main())
