"""The security suite runs against the same local host as tests/e2e (its ``api`` fixture)."""

from tests.e2e.conftest import api

__all__ = ["api"]
