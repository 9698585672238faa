"""The api-latency phase's arithmetic and settings: nearest-rank percentiles, the settings
scripts/serve runs the service with, and a load that goes nowhere but 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.api_latency import Load, measure, serve_settings
from bench.report import percentile


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 201)]

    assert percentile(values, 0.5) == 100.0
    assert percentile(values, 0.99) == 198.0
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([], 0.5) != percentile([], 0.5)  # nan


def test_serve_settings_are_the_example_values_without_storage(tmp_path: Path) -> None:
    example = tmp_path / "local.settings.json.example"
    example.write_text(json.dumps({"Values": {"JobsStorage": "x", "AzureWebJobsStorage": "y",
                                              "PYTHON_THREADPOOL_THREAD_COUNT": 32}}))  # fmt: skip

    assert serve_settings(example) == {"PYTHON_THREADPOOL_THREAD_COUNT": "32"}
    assert "JOBS_SWEEP_SCHEDULE" in serve_settings()


def test_the_load_targets_only_loopback() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        measure("http://example.com/api", "task", Load(1, 1, 1.0))
