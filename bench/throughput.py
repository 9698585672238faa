"""Phase 2, throughput: the service end to end with ``JOBS_GROUP_COMMIT`` false and true,
against the seed design's floor and the storage floors, all in one run and interleaved (so
drift in the machine's load hits every figure alike); with the storage requests, entity
operations and CPU each job costs, and the counts checked at every status poll."""

from __future__ import annotations

import sys

from bench.floor import Run, in_process, seed_floor, storage_floor
from bench.plan import Plan
from bench.polls import Polls
from bench.report import Report, Row, median, ms, times, values
from bench.service_run import GROUP_COMMIT, ServiceRun, service_run
from bench.stack import Stack, cpu_seconds

SETTINGS = ("false", "true")  # JOBS_GROUP_COMMIT: today's path, then group commit
PARTITION_TARGET = 2_000  # entities/s: Azure's scalability target for one table partition
TARGETS = {"seed ratio": 0.8, "requests": 3.5, "cpu ratio": 0.60}


def throughput(stack: Stack, plan: Plan, report: Report) -> None:
    print("\n== 2. throughput: the service against the floors, same Azurite, 32 at a time")
    ours: dict[str, list[ServiceRun]] = {setting: [] for setting in SETTINGS}
    floors: dict[str, list[Run]] = {
        "seed": [], "floor": [], "bare": [], "inproc": [], "inproc x4": [],
    }  # fmt: skip
    seed_polls: list[Polls] = []
    timeout = max(300.0, plan.throughput_items / 4)
    conn, n = stack.connection_string, plan.floor_items

    def storage_cpu() -> float:
        return cpu_seconds(stack.azurite_pids())

    for number in range(plan.throughput_runs):
        for setting in SETTINGS:
            ours[setting].append(
                service_run(stack, plan.throughput_items, setting, plan.poll_interval)
            )
        seed, polls = seed_floor(conn, plan.throughput_items, poll_every=plan.poll_interval,
                                 timeout=timeout, storage_cpu=storage_cpu)  # fmt: skip
        floors["seed"].append(seed)
        seed_polls.append(polls)
        floors["floor"].append(
            storage_floor(conn, n, bare=False, timeout=timeout, storage_cpu=storage_cpu)
        )
        floors["bare"].append(
            storage_floor(conn, n, bare=True, timeout=timeout, storage_cpu=storage_cpu)
        )
        floors["inproc"].append(in_process(conn, n, timeout=timeout, storage_cpu=storage_cpu))
        floors["inproc x4"].append(
            in_process(conn, n, timeout=timeout, storage_cpu=storage_cpu, workers=4)
        )
        rates = [f"{GROUP_COMMIT}={s} {ours[s][-1].rate:.1f}" for s in SETTINGS]
        rates += [f"{k} {v[-1].rate:.1f}" for k, v in floors.items()]
        print(f"  run {number + 1}: " + ", ".join(rates) + " jobs/s", flush=True)
    _report_seed(plan, ours, floors["seed"], seed_polls, report)
    _report_costs(ours, report)
    _report_floors(plan, ours["true"], floors, report)


def _rate(runs: list[ServiceRun] | list[Run]) -> float:
    return median([run.rate for run in runs])


def _report_seed(
    plan: Plan,
    ours: dict[str, list[ServiceRun]],
    seed: list[Run],
    seed_polls: list[Polls],
    report: Report,
) -> None:
    # Ours runs from the HTTP submit; the seed's end to end from its first row written (its
    # submit: rows and one message a job), and without that setup for reference.
    floor = median([run.end_to_end_rate for run in seed])
    jobs_only = _rate(seed)
    items = plan.throughput_items
    for setting in SETTINGS:
        rate = _rate(ours[setting])
        target = f"; target {TARGETS['seed ratio']:.2f}x" if setting == "true" else ""
        report.add(Row(f"2. ours, {GROUP_COMMIT}={setting}, vs the seed floor",
                       f"{rate:.1f} jobs/s", f"seed {floor:.1f} jobs/s", times(rate / floor),
                       f"{items:,} echo items, end to end (ours from the HTTP submit, the seed's "
                       f"from its first row), host behind the counting proxy; median of "
                       f"{len(ours[setting])}{target}; vs the seed's jobs alone ({jobs_only:.1f} "
                       f"jobs/s) {times(rate / jobs_only)}"))  # fmt: skip
    for setting in SETTINGS:
        polls = [run.polls for run in ours[setting]]
        _report_polls(f"2. counts exact at every poll, {GROUP_COMMIT}={setting}", polls, report)
        report.detail(
            f"{GROUP_COMMIT}={setting}: status poll {ms(median([p.median_seconds for p in polls]))}"
            f" (median), {ours[setting][0].per_poll().total():.0f} table requests reading "
            f"{sum(ours[setting][0].per_poll().entities.values()):.0f} entities"
        )
    _report_polls("2. seed floor's counts (by query) at every poll", seed_polls, report)
    per_poll = median([p.median_entities for p in seed_polls])
    pages = median([p.requests / max(1, p.count) for p in seed_polls])
    report.add(Row("2. seed floor's status poll (count the partition's job rows)",
                   ms(median([p.median_seconds for p in seed_polls])),
                   "ours " + ms(median([r.polls.median_seconds for r in ours["true"]])), "",
                   f"reads {per_poll:,.0f} entities in {pages:.1f} requests a poll, every "
                   f"{plan.poll_interval:g} s"))  # fmt: skip
    report.detail(f"seed floor: {values([r.rate for r in seed], 'jobs/s')} for its jobs, "
                  f"after a setup of {values([r.setup_seconds for r in seed], 's')}; "
                  f"{median([r.requests_per_job for r in seed]):.2f} requests/job without its "
                  f"polls (2 merges, a delete, a share of a receive); Azurite CPU "
                  f"{median([r.storage_busy for r in seed]):.0%} of a core, the script's "
                  f"{median([r.client_busy for r in seed]):.0%}")  # fmt: skip


def _report_polls(measure: str, found: list[Polls], report: Report) -> None:
    count = sum(p.count for p in found)
    violations = [v for p in found for v in p.violations]
    report.add(
        Row(
            measure,
            f"{count} polls",
            "",
            "",
            f"{len(violations)} violations" if violations else "no violation",
        )
    )
    for violation in violations[:20]:
        report.detail(f"VIOLATION ({measure}): {violation}")
    if violations:
        report.alarm(f"{measure}: {len(violations)} violations of exact counts")
        print(f"!!! {measure}: {len(violations)} VIOLATIONS", file=sys.stderr, flush=True)


def _report_costs(ours: dict[str, list[ServiceRun]], report: Report) -> None:
    requests = {s: median([r.steady_per_job().total() for r in ours[s]]) for s in SETTINGS}
    cpu = {s: median([r.cpu_per_job for r in ours[s]]) for s in SETTINGS}
    entities = {s: median([r.task_entities_per_job() for r in ours[s]]) for s in SETTINGS}
    report.add(Row(f"2. storage requests per job, steady state, {GROUP_COMMIT}=true",
                   f"{requests['true']:.2f}", f"false {requests['false']:.2f}",
                   times(requests["true"] / requests["false"]),
                   f"host + worker, counted by the proxy, status polls taken out; target "
                   f"{TARGETS['requests']}"))  # fmt: skip
    report.add(Row(f"2. CPU per job, host + worker, {GROUP_COMMIT}=true",
                   ms(cpu["true"]), f"false {ms(cpu['false'])}", times(cpu["true"] / cpu["false"]),
                   f"user + sys, submit to done, polls included; target "
                   f"{TARGETS['cpu ratio']:.2f}x"))  # fmt: skip
    for setting in SETTINGS:
        ceiling = PARTITION_TARGET / entities[setting]
        report.add(Row(f"2. entity operations per job on the task's partition, "
                       f"{GROUP_COMMIT}={setting}", f"{entities[setting]:.1f}",
                       f"{PARTITION_TARGET:,} entities/s a partition",
                       f"{ceiling:.0f} jobs/s", "one task's ceiling in Azure: 2,000 / "
                       "(entity operations per job), steady state"))  # fmt: skip
    for setting in SETTINGS:
        for run in ours[setting]:
            steady, whole = run.steady_per_job(), run.whole_per_job()
            report.detail(
                f"{GROUP_COMMIT}={setting}: {run.rate:.1f} jobs/s, fan-out {run.fanout:.1f} s; "
                f"steady state ({run.steady_jobs} jobs, {run.steady_polls} polls taken out): "
                f"{steady.total():.2f} requests/job: {steady.breakdown()}; "
                f"{run.steady.received / run.steady_jobs:.2f} messages received/job"
            )
            report.detail(
                f"{GROUP_COMMIT}={setting}: whole run {whole.total():.2f} requests/job "
                f"(table {whole.total('table'):.2f}, queue {whole.total('queue'):.2f}, blob "
                f"{whole.total('blob'):.2f}); entity operations/job steady: "
                + ", ".join(f"{'task' if p == run.task_id else p} {n:.2f}"
                            for p, n in steady.entities.items() if abs(n) >= 0.005)
            )  # fmt: skip
            report.detail(
                f"{GROUP_COMMIT}={setting}: CPU/job {ms(run.cpu_per_job)} whole run, "
                f"{ms(run.steady_cpu_per_job)} steady; Azurite {run.storage_busy:.0%} of a core; "
                f"the proxy {ms(run.proxy_cpu / run.jobs)}/job (not in the host's figure)"
            )


def _report_floors(
    plan: Plan, ours: list[ServiceRun], floors: dict[str, list[Run]], report: Report
) -> None:
    """The storage floors, against the default (group commit on)."""
    rate = {name: _rate(found) for name, found in floors.items()}
    mine, n = _rate(ours), plan.floor_items
    report.add(Row("2. throughput, ours (HTTP submit to all completed)", f"{mine:.1f} jobs/s",
                   f"floor {rate['floor']:.1f} jobs/s", times(mine / rate["floor"]),
                   f"{GROUP_COMMIT}=true; fan-out {median([r.fanout for r in ours]):.1f} s "
                   f"included; floor: {n:,} jobs"))  # fmt: skip
    report.add(Row("2. throughput, ours vs bare floor", f"{mine:.1f} jobs/s",
                   f"bare {rate['bare']:.1f} jobs/s", times(mine / rate["bare"]),
                   "bare: 2 single-entity upserts + send, no counters"))  # fmt: skip
    report.add(Row("2. floor vs bare (what the counters cost)", f"{rate['floor']:.1f} jobs/s",
                   f"bare {rate['bare']:.1f} jobs/s", times(rate["floor"] / rate["bare"]),
                   "2 gets + 2 two-entity transactions vs 2 upserts"))  # fmt: skip
    races = median([r.conflicts / r.jobs for r in floors["inproc"]])
    report.add(Row("2. ours in-process (jobs.control.handlers.handle, the floor's driver)",
                   f"{rate['inproc']:.1f} jobs/s", f"floor {rate['floor']:.1f} jobs/s",
                   times(rate["inproc"] / rate["floor"]),
                   f"devhost/in-process {mine / rate['inproc']:.2f}x; lost races "
                   f"{races:.2f}/job"))  # fmt: skip
    races4 = median([r.conflicts / r.jobs for r in floors["inproc x4"]])
    report.add(Row("2. ours in-process, one task moved by 4 workers' lifecycles at once",
                   f"{rate['inproc x4']:.1f} jobs/s", f"one worker {rate['inproc']:.1f} jobs/s",
                   times(rate["inproc x4"] / rate["inproc"]),
                   f"as 4 instances would: each its own group commit and kept shards; lost "
                   f"races {races4:.2f}/job, each followed by shard-by-shard writes"))  # fmt: skip
    for name, found in floors.items():
        line = f"{name}: {values([r.rate for r in found], 'jobs/s')}"
        line += f"; Azurite CPU {median([r.storage_busy for r in found]):.0%} of a core"
        line += f", client CPU {median([r.client_busy for r in found]):.0%} (this process)"
        line += (
            f"; requests/job {median([r.requests_per_job for r in found]):.2f} (with "
            f"receive and delete); new TCP connections/run {[r.connections for r in found]}"
        )
        if name.startswith("inproc"):
            line += f"; lost ETag races/run {[r.conflicts for r in found]}"
        report.detail(line)  # fmt: skip
