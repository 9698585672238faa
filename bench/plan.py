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
        )
