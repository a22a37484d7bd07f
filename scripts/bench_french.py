#!/usr/bin/env python3
"""`python -m bench french` under its documented name."""
from bench_alias import run

run("french")
