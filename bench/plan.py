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
    # Phase 8, scale (bench/scale.py): both counter layouts side by side.
    scale_inproc_runs: int = 3  # of 1 and of 4 lifecycles in process, each layout
    scale_counted_runs: int = 2  # counted host runs (entity operations), each layout
    status_jobs: int = 100_000  # the running task whose status polls are measured
    status_polls: int = 50  # of it, and of a 100-job task
    scale_hosts: tuple[int, ...] = (1, 2, 4)  # local hosts on one task
    scale_host_runs: int = 2  # of each host count, each layout
    # Seconds each of their sleep jobs takes: at 0.2 s one host already keeps 0.7 of this
    # machine's 2 cores busy, so four would measure the CPU, not how hosts share a task.
    scale_sleep: float = 1.0
    scale_jobs_per_host: int = 1_000  # the task's jobs, per host
    scale_window: float = 20.0  # seconds of steady state measured at most

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
            scale_inproc_runs=1,
            scale_counted_runs=1,
            status_polls=20,
            scale_host_runs=1,
            scale_jobs_per_host=600,
            scale_window=15.0,
        )
