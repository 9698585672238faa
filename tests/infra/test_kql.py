"""Every KQL query infra/ deploys (workspace functions, saved searches, alert rules, workbook
queries) parses and resolves against the real schema of the tables it reads, as the Kusto
language service sees it; and the check does fail on a wrong name."""

from __future__ import annotations

import pytest

from tests.infra import queries
from tests.infra.kql import analyze, tables

# The tables the service's telemetry lands in (workspace-based App Insights), and the queue logs.
REQUIRED_TABLES = {
    "AppTraces",
    "AppRequests",
    "AppExceptions",
    "AppMetrics",
    "AppDependencies",
    "StorageQueueLogs",
}


def test_every_deployed_query_has_no_diagnostic() -> None:
    deployed = queries.all_queries()
    analyses = analyze(deployed, queries.functions())

    assert set(analyses) == set(deployed)
    reported = [
        f"{name}:\n  " + "\n  ".join(d.where(deployed[name]) for d in analysis.diagnostics)
        for name, analysis in analyses.items()
        if analysis.diagnostics
    ]
    assert not reported, "the Kusto language service reports:\n" + "\n".join(reported)


def test_every_kind_of_query_is_among_those_checked() -> None:
    deployed = queries.all_queries()
    assert {"JobEvents", "QueueDepth", "PoisonMoves"} <= set(queries.functions())
    assert any(name.startswith("app/alerts.bicep ") for name in deployed)
    assert any(name.startswith("app/monitoring.bicep queries[") for name in deployed)
    assert any(".workbook.json " in name for name in deployed)


def test_every_kql_file_is_deployed_and_every_bicep_query_comes_from_one() -> None:
    loaded = {query.file for query in queries.bicep_queries()}
    assert None not in loaded
    assert loaded == set(queries.QUERIES_DIR.glob("*.kql"))


@pytest.mark.parametrize(
    ("original", "broken", "expected"),
    [
        ("sum(ItemCount)", "sum(ItemCnt)", "ItemCnt"),  # a misspelt column
        ("JobEvents", "JobEvent", "JobEvent"),  # a misspelt function
        ("by queue,", "by queues,", "queues"),  # a column the function does not return
    ],
)
def test_a_wrong_name_in_a_query_is_reported(original: str, broken: str, expected: str) -> None:
    [throughput] = [q for q in queries.bicep_queries() if q.name.endswith("[jobs-throughput]")]
    assert original in throughput.text
    text = throughput.text.replace(original, broken)

    [diagnostic, *_] = analyze({"broken": text}, queries.functions())["broken"].diagnostics

    assert diagnostic.severity == "Error"
    assert expected in diagnostic.message
    assert text[diagnostic.start : diagnostic.start + diagnostic.length] == expected


def test_a_wrong_column_in_a_table_is_reported_inside_a_function_body() -> None:
    functions = queries.functions()
    body = functions["JobEvents"].replace("SeverityLevel", "Severity", 1)

    analyses = analyze({"JobEvents": body}, {**functions, "JobEvents": body})

    messages = [d.message for d in analyses["JobEvents"].diagnostics]
    assert any("'Severity'" in message for message in messages), messages


def test_a_query_that_is_not_loaded_from_a_file_is_refused() -> None:
    literal = "AppTraces | take 1"
    with pytest.raises(queries.UnsupportedQuery, match="loadTextContent"):
        queries._evaluate(literal, queries.QUERIES_DIR, {}, "a test resource")


def test_the_schema_has_every_table_with_its_time_and_type_columns() -> None:
    schema = tables()
    assert set(schema) == REQUIRED_TABLES
    for name, table in schema.items():
        assert table["reference"].endswith(f"/tables/{name.lower()}")
        assert table["columns"]["TimeGenerated"] == "datetime", name
        assert table["columns"]["Type"] == "string", name
        assert set(table["columns"].values()) <= {
            "string", "int", "long", "real", "bool", "datetime", "dynamic", "timespan", "guid"
        }  # fmt: skip
