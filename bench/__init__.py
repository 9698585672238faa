"""Benchmark of the job service (issue 5): ``.venv/bin/python -m bench.run [--quick]``."""
