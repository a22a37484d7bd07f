#!/usr/bin/env python3
"""`python -m bench store` under its documented name."""
from bench_alias import run

run("store")
