#!/usr/bin/env python3
"""`python -m bench wakeword` under its documented name."""
from bench_alias import run

run("wakeword")
