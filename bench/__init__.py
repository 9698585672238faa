"""Benchmark of the job service: ``.venv/bin/python -m bench.run [--quick]``."""
