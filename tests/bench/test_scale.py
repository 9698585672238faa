"""The scale phase's arithmetic: the steady state found in a run's polls, scaling against
linear, and one task's ceiling in Azure from its busiest partition."""

from __future__ import annotations

import pytest

from bench.hosts import Sample, scaling, steady
from bench.scale import busiest, ceiling
from bench.tally import ANY_PARTITION


def samples(*points: tuple[float, int]) -> list[Sample]:
    return [Sample(at, completed, cpu=at / 2) for at, completed in points]


def test_steady_state_runs_from_20_to_80_percent_completed() -> None:
    polls = samples((0, 0), (1, 10), (2, 20), (3, 50), (4, 80), (5, 100))

    found = steady(polls, 100, window=60)

    assert found is not None
    assert (found.jobs, found.seconds) == (60, 2)
    assert found.rate == 30
    assert found.busy == pytest.approx(0.5)


def test_steady_state_ends_after_the_window_when_the_task_is_long() -> None:
    polls = samples((0, 200), (5, 300), (10, 400), (15, 500))

    found = steady(polls, 1_000, window=10)

    assert found is not None
    assert (found.jobs, found.seconds) == (200, 10)


def test_no_steady_state_before_its_end_is_seen() -> None:
    assert steady(samples((0, 0), (1, 10)), 100, window=60) is None
    assert steady(samples((0, 20), (1, 50)), 100, window=60) is None


def test_the_longest_stall_is_the_time_without_a_job_completed() -> None:
    polls = samples((0, 20), (1, 30), (2, 30), (3, 30), (4, 40), (5, 80))

    found = steady(polls, 100, window=60)

    assert found is not None
    assert found.stall == 3


def test_scaling_compares_each_count_with_n_times_one_host() -> None:
    ratios = scaling({1: 50.0, 2: 90.0, 4: 160.0})

    assert ratios == {1: 1.0, 2: 0.9, 4: 0.8}


def test_one_tasks_ceiling_comes_from_its_busiest_named_partition() -> None:
    partition, most = busiest({"task": 3.2, "stats-minutes": 0.1, ANY_PARTITION: 9.0})

    assert (partition, most) == ("task", 3.2)
    assert ceiling(most) == pytest.approx(625.0)
    assert busiest({}) == (ANY_PARTITION, 0.0)
