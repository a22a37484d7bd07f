#!/usr/bin/env python3
"""`python -m bench accuracy` under its documented name."""
from bench_alias import run

run("accuracy")
