"""How much the benchmark runs: the full plan, or the quick one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    submit_runs: int = 5
    throughput_runs: int = 3
    throughput_items: int = 2_000
    floor_items: int = 800
    read_runs: int = 20
    fairness_runs: int = 5
    profile_jobs: int = 300
    poll_interval: float = 0.25  # seconds between status polls while a throughput task runs
    api_backlog: int = 20_000  # the echo task the API is measured beside
    api_threads: int = 4  # closed-loop callers
    api_requests: int = 300  # of each of GET /tasks/{id} and GET /tasks, idle and loaded
    api_seconds: float = 60.0  # at most, for each of the idle and the loaded load

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            submit_runs=1,
            throughput_runs=1,
            throughput_items=1_000,
            floor_items=500,
            read_runs=5,
            fairness_runs=2,
            profile_jobs=100,
            api_requests=100,
            api_seconds=30.0,
        )
