"""Phase 8, scale: a task's counters counted by shards (JOBS_COUNTER_LAYOUT=shards, 32 rows by
job index, the old layout) and by writers (a row per writer, the default), side by side in one
run:

a. **instances on one task, in process**: four lifecycles (as four instances' workers) moving
   one task's jobs at once, against one, driven as the host drives them (bench/floor.py
   ``in_process``), with the writes that lost a race;
b. **status polls**: ``jobs.reads.tasks.status`` of a running 100,000-job task against a
   100-job one, timed and its storage requests counted (bench/status_cost.py);
c. **entity operations** per job on any one partition at steady state, counted by the proxy
   in front of Azurite while one host runs an echo task (bench/service_run.py), and one
   task's ceiling in Azure recomputed from them;
d. **hosts on one task**: one task of short sleep jobs run by 1, 2 and 4 local hosts on one
   Azurite, its pace at steady state against linear scaling (bench/hosts.py).

Targets are checked for the writers layout (the shards layout is the comparison): a miss is an
alarm."""

from __future__ import annotations

import sys

from bench.floor import Run, in_process
from bench.hosts import HostsRun, hosts_run, scaling
from bench.plan import Plan
from bench.report import Report, Row, median, ms, times, values
from bench.service_run import ServiceRun, service_run
from bench.stack import Stack, cpu_seconds
from bench.status_cost import STARTED, PollCost, status_costs
from bench.tally import ANY_PARTITION
from jobs.core.settings import COUNTER_LAYOUT, DISPATCH_WINDOW

LAYOUTS = ("shards", "writers")  # the old layout first, then the new
CHECKED = "writers"  # whose figures must meet the targets
PARTITION_TARGET = 2_000  # entities/s: Azure's scalability target for one table partition
QUEUE_TARGET = 2_000  # messages/s: Azure's scalability target for one queue
SMALL_TASK = 100
TARGETS = {
    "lifecycles": 0.9,  # four lifecycles' rate against one's
    "races": 0.01,  # lost races a job
    "hosts": 0.8,  # rate with n hosts against n x one host's
    "entities": 3.5,  # entity operations a job on one partition
    "ceiling": 570.0,  # jobs/s: one task in Azure
    "poll ratio": 1.5,  # the large task's poll latency against the small one's
}


def scale(stack: Stack, plan: Plan, report: Report) -> None:
    print(f"\n== 8. scale: counters by shards vs by writers (JOBS_COUNTER_LAYOUT), "
          f"{', '.join(LAYOUTS)}", flush=True)  # fmt: skip
    parts = [_lifecycles, _polls, _entities, _hosts]
    for part in parts:  # a part that fails (Azurite dropping a connection, say) spares the others
        if part is _entities:
            stack.start_azurite()  # the status polls' 100,000 rows out of the way
        try:
            part(stack, plan, report)
        except Exception as error:
            report.alarm(f"8. {part.__name__.strip('_')} failed: {error!r:.300}")
            print(f"!!! 8. {part.__name__.strip('_')} failed: {error!r}", file=sys.stderr)
            stack.stop_host()


def layout_setting(layout: str) -> str:
    return f"{COUNTER_LAYOUT}={layout}"


def ceiling(entities_per_job: float) -> float:
    """One task's jobs/s in Azure, bounded by its partition's entity operations."""
    return PARTITION_TARGET / entities_per_job


def busiest(entities: dict[str, float]) -> tuple[str, float]:
    """The partition with the most entity operations (a request naming none aside)."""
    named = {p: n for p, n in entities.items() if p != ANY_PARTITION}
    if not named:
        return ANY_PARTITION, 0.0
    partition = max(named, key=lambda p: named[p])
    return partition, named[partition]


def _check(report: Report, layout: str, ok: bool, line: str) -> None:
    if layout == CHECKED and not ok:
        report.alarm(f"8. {layout_setting(layout)}: {line}")


# -- a. lifecycles in process ----------------------------------------------------------------


def _lifecycles(stack: Stack, plan: Plan, report: Report) -> None:
    print("  a. in process: one task moved by 1 and by 4 lifecycles at once", flush=True)
    runs: dict[str, dict[int, list[Run]]] = {layout: {1: [], 4: []} for layout in LAYOUTS}
    timeout = max(300.0, plan.floor_items / 2)

    def storage_cpu() -> float:
        return cpu_seconds(stack.azurite_pids())

    for _ in range(plan.scale_inproc_runs):
        for layout in LAYOUTS:  # interleaved, so drift hits both layouts alike
            for workers in (1, 4):
                run = in_process(stack.connection_string, plan.floor_items, timeout,
                                 storage_cpu, workers, layout)  # fmt: skip
                runs[layout][workers].append(run)
                print(f"    {layout}, {workers} lifecycle(s): {run.rate:.1f} jobs/s, "
                      f"{run.conflicts} lost races", flush=True)  # fmt: skip
    for layout in LAYOUTS:
        one, four = runs[layout][1], runs[layout][4]
        rate1, rate4 = median([r.rate for r in one]), median([r.rate for r in four])
        races1 = median([r.conflicts / r.jobs for r in one])
        races4 = median([r.conflicts / r.jobs for r in four])
        ratio = rate4 / rate1
        report.add(Row(f"8. in-process, one task moved by 4 lifecycles at once, "
                       f"{layout_setting(layout)}", f"{rate4:.1f} jobs/s",
                       f"one lifecycle {rate1:.1f} jobs/s", times(ratio),
                       f"lost races {races4:.3f}/job (one lifecycle: {races1:.3f}); "
                       f"{plan.floor_items:,} echo jobs, median of {len(four)}; target "
                       f"{TARGETS['lifecycles']:.2f}x and {TARGETS['races']}/job"))  # fmt: skip
        _check(
            report,
            layout,
            ratio >= TARGETS["lifecycles"],
            f"4 lifecycles at {ratio:.2f}x one's rate (target {TARGETS['lifecycles']}x)",
        )
        _check(report, layout, races4 <= TARGETS["races"],
               f"{races4:.3f} lost races a job (target {TARGETS['races']})")  # fmt: skip
        for workers, found in runs[layout].items():
            report.detail(f"{layout_setting(layout)}, {workers} lifecycle(s): "
                          f"{values([r.rate for r in found], 'jobs/s')}; lost races/run "
                          f"{[r.conflicts for r in found]}; requests/job "
                          f"{median([r.requests_per_job for r in found]):.2f}; Azurite CPU "
                          f"{median([r.storage_busy for r in found]):.0%} of a core, this "
                          f"process {median([r.client_busy for r in found]):.0%}")  # fmt: skip


# -- b. status polls -------------------------------------------------------------------------


def _polls(stack: Stack, plan: Plan, report: Report) -> None:
    sizes = (plan.status_jobs, SMALL_TASK)
    print(
        f"  b. status polls: a running {sizes[0]:,}-job task against a {sizes[1]}-job one",
        flush=True,
    )
    for layout in LAYOUTS:
        # A fresh Azurite each: in memory, its queries slow as its table grows, so the second
        # layout would otherwise be read beside the first's 100,000 rows.
        stack.start_azurite()
        found = status_costs(stack.connection_string, layout, sizes, plan.status_polls)
        large, small = found[sizes[0]], found[sizes[1]]
        ratio = large.median_seconds / small.median_seconds
        report.add(Row(f"8. status poll of a running {sizes[0]:,}-job task, "
                       f"{layout_setting(layout)}", ms(large.median_seconds),
                       f"{sizes[1]} jobs {ms(small.median_seconds)}", times(ratio),
                       f"storage requests a poll {large.requests_per_poll:.2f} vs "
                       f"{small.requests_per_poll:.2f}; rows read {large.rows} vs {small.rows}; "
                       f"{STARTED} jobs running and reporting in each; jobs.reads.tasks.status "
                       f"in process, median of {len(large.seconds)}; target "
                       f"{TARGETS['poll ratio']}x and the same requests"))  # fmt: skip
        _check(report, layout, ratio <= TARGETS["poll ratio"],
               f"a {sizes[0]:,}-job task's poll at {ratio:.2f}x a {sizes[1]}-job one's "
               f"(target {TARGETS['poll ratio']}x)")  # fmt: skip
        _check(report, layout, large.requests == small.requests,
               f"{large.requests} requests for {len(large.seconds)} polls of the large task, "
               f"{small.requests} of the small one")  # fmt: skip
        for cost in (large, small):
            _detail_polls(report, layout, cost)


def _detail_polls(report: Report, layout: str, cost: PollCost) -> None:
    report.detail(f"{layout_setting(layout)}: status poll of {cost.jobs:,} jobs: "
                  f"{values(cost.seconds, 'ms', 1000)}; {cost.requests} requests; progress "
                  f"reported {cost.reported:g}")  # fmt: skip


# -- c. entity operations --------------------------------------------------------------------


def _entities(stack: Stack, plan: Plan, report: Report) -> None:
    items = plan.throughput_items
    print(f"  c. entity operations: one counted host, {items:,} echo items", flush=True)
    runs: dict[str, list[ServiceRun]] = {layout: [] for layout in LAYOUTS}
    for _ in range(plan.scale_counted_runs):
        for layout in LAYOUTS:
            run = service_run(stack, items, "true", plan.poll_interval, {COUNTER_LAYOUT: layout})
            runs[layout].append(run)
            print(f"    {layout}: {run.rate:.1f} jobs/s, {run.task_entities_per_job():.2f} "
                  f"entity operations/job on the task's partition", flush=True)  # fmt: skip
    for layout in LAYOUTS:
        task = median([r.task_entities_per_job() for r in runs[layout]])
        most = median([busiest(r.steady_per_job().entities)[1] for r in runs[layout]])
        report.add(Row(f"8. entity operations per job on one partition, steady state, "
                       f"{layout_setting(layout)}", f"{most:.2f}",
                       f"{PARTITION_TARGET:,} entities/s a partition",
                       f"{ceiling(most):.0f} jobs/s",
                       f"the busiest partition, the task's ({task:.2f}); one task's ceiling in "
                       f"Azure: {PARTITION_TARGET:,} / that; then the queue's {QUEUE_TARGET:,} "
                       f"messages/s (a message a job); counted by the proxy, one host, "
                       f"{items:,} echo items, median of {len(runs[layout])}; target "
                       f"{TARGETS['entities']} ({TARGETS['ceiling']:.0f} jobs/s)"))  # fmt: skip
        _check(report, layout, most <= TARGETS["entities"],
               f"{most:.2f} entity operations a job on one partition "
               f"(target {TARGETS['entities']})")  # fmt: skip
        for run in runs[layout]:
            steady = run.steady_per_job()
            partitions = ", ".join(
                f"{'task' if p == run.task_id else p} {n:.2f}"
                for p, n in steady.entities.items()
                if abs(n) >= 0.005
            )
            report.detail(f"{layout_setting(layout)}: {run.rate:.1f} jobs/s; entity operations"
                          f"/job steady: {partitions}; {steady.total():.2f} requests/job: "
                          f"{steady.breakdown()}")  # fmt: skip


# -- d. hosts --------------------------------------------------------------------------------


def _hosts(stack: Stack, plan: Plan, report: Report) -> None:
    window = 128 * max(plan.scale_hosts)  # the default window per host, whatever the count
    print(f"  d. hosts on one task: {', '.join(map(str, plan.scale_hosts))} host(s), sleep "
          f"{plan.scale_sleep:g} s jobs, {DISPATCH_WINDOW}={window}", flush=True)  # fmt: skip
    runs: dict[str, dict[int, list[HostsRun]]] = {
        layout: {hosts: [] for hosts in plan.scale_hosts} for layout in LAYOUTS
    }
    for number in range(plan.scale_host_runs):
        for layout in LAYOUTS:
            stack.start_azurite()  # each layout's runs on a fresh Azurite
            settings = {COUNTER_LAYOUT: layout, DISPATCH_WINDOW: str(window)}
            for hosts in plan.scale_hosts:
                run = hosts_run(stack, hosts, settings, hosts * plan.scale_jobs_per_host,
                                plan.scale_sleep, plan.scale_window)  # fmt: skip
                runs[layout][hosts].append(run)
                print(f"    run {number + 1}, {layout}, {hosts} host(s): {run.rate:.1f} jobs/s "
                      f"({run.steady.busy:.2f} cores busy, longest stall "
                      f"{run.steady.stall:.1f} s)", flush=True)  # fmt: skip
    ideal = 32 / plan.scale_sleep
    for layout in LAYOUTS:
        found = runs[layout]
        rates = {hosts: median([r.rate for r in found[hosts]]) for hosts in found}
        busy = {hosts: median([r.steady.busy for r in found[hosts]]) for hosts in found}
        stall = {hosts: max(r.steady.stall for r in found[hosts]) for hosts in found}
        ratios = scaling(rates)
        for hosts in plan.scale_hosts[1:]:
            jobs = found[hosts][0].jobs
            seconds = median([r.steady.seconds for r in found[hosts]])
            report.add(Row(f"8. {hosts} local hosts on one task, {layout_setting(layout)}",
                           f"{rates[hosts]:.1f} jobs/s",
                           f"{hosts} x 1 host ({rates[1]:.1f} jobs/s)", times(ratios[hosts]),
                           f"{jobs:,} sleep jobs of {plan.scale_sleep:g} s, 32 at once a host "
                           f"({ideal:.0f} jobs/s a host at most), {DISPATCH_WINDOW}={window}; "
                           f"steady state over {seconds:.0f} s, median of {len(found[hosts])}; "
                           f"hosts, workers and Azurite kept {busy[hosts]:.2f} cores busy "
                           f"(1 host: {busy[1]:.2f}); longest stall {stall[hosts]:.1f} s; "
                           f"target {TARGETS['hosts']:.2f}x"))  # fmt: skip
            _check(
                report,
                layout,
                ratios[hosts] >= TARGETS["hosts"],
                f"{hosts} hosts at {ratios[hosts]:.2f}x linear (target {TARGETS['hosts']}x)",
            )
        for hosts, found_runs in found.items():
            for run in found_runs:
                report.detail(f"{layout_setting(layout)}, {hosts} host(s): {run.rate:.1f} jobs/s "
                              f"over {run.steady.jobs:,} jobs in {run.steady.seconds:.1f} s; "
                              f"{run.steady.busy:.2f} cores busy; longest stall "
                              f"{run.steady.stall:.1f} s; first job done {run.fanout:.1f} s "
                              f"after the submit")  # fmt: skip
