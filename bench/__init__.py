"""Benchmarks: each module is runnable with `python -m bench.<name>`; results go to docs/."""
