"""Benchmarks: `make bench` or `python -m bench [suite]`; results recorded in docs/benchmarks.md."""
