"""The figures as one markdown page: the summary table first, then every run's values."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with at least ``share`` of them at or
    below it (p99 of 200 values is the second largest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    against: str = ""  # what the value is compared with
    ratio: str = ""
    note: str = ""


@dataclass
class Report:
    command: str
    header: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)  # broken invariants: the run fails

    def add(self, row: Row) -> None:
        self.rows.append(row)
        print(
            f"  {row.measure}: {row.value}"
            + (f"  vs {row.against}  = {row.ratio}" if row.ratio else "")
        )

    def detail(self, line: str) -> None:
        self.details.append(line)
        print(f"    {line}")

    def alarm(self, line: str) -> None:
        self.alarms.append(line)

    def markdown(self) -> str:
        lines = ["# Benchmark of the job service", "", *self.header, ""]
        lines += [f"**ALARM: {line}**" for line in self.alarms] + ([""] if self.alarms else [])
        lines += [
            "| measure | value | compared with | ratio | note |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.measure} | {r.value} | {r.against} | {r.ratio} | {r.note} |" for r in self.rows
        ]
        lines += ["", "## Runs", "", *(f"- {line}" for line in self.details), ""]
        lines += ["Command:", "", "```", self.command, "```", ""]
        return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def times(ratio: float) -> str:
    return f"{ratio:.2f}x"


def values(samples: list[float], unit: str = "s", scale: float = 1.0) -> str:
    return ", ".join(f"{v * scale:.3g}" for v in samples) + f" {unit}"
