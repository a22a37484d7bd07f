#!/usr/bin/env python3
"""`python -m bench realspeech` under its documented name."""
from bench_alias import run

run("realspeech")
