"""``python -m jobs_client`` is the ``jobs`` command."""

from jobs_client.cli import run

run()
