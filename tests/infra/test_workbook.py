"""The workbook: deployed from its JSON file for both App Insights and the function app, with the
sections the operators asked for, and every chart filtered by time range, queue and kind."""

from __future__ import annotations

import json
from typing import Any

from tests.infra.bicep import INFRA, parse, variable
from tests.infra.queries import (
    WORKSPACE_PLACEHOLDER,
    workbook,
    workbook_files,
    workbook_items,
    workbook_queries,
)

WORKBOOK_MODULE = INFRA / "app" / "workbook.bicep"
MAIN = INFRA / "main.bicep"
SECTIONS = (
    "Jobs completed and failed per minute, by queue and kind",
    "Attempts and time to finish, by kind",
    "Tasks with the most failures",
    "Poison moves and sweeps",
    "Host errors and timeouts",
    "Queue depth over time",
)
# Charts that no queue or kind can narrow, and why.
NOT_BY_QUEUE_OR_KIND = {
    "timer-runs": "the sweep and the depth sampler each cover every queue and every kind",
}


def the_workbook() -> dict[str, Any]:
    [path] = workbook_files()
    assert path.parent == INFRA / "app" / "workbooks"
    return workbook(path)


def test_bicep_deploys_the_json_file_with_the_workspace_filled_in() -> None:
    serialized = variable(WORKBOOK_MODULE, "serializedData")["function"]
    assert serialized["type"] == "replace"
    parameters = serialized["parameters"]
    assert parameters["old_string"] == WORKSPACE_PLACEHOLDER
    assert parameters["new_string"] == "workspaceId"
    loaded = parameters["original_string"]["function"]["parameters"]["file_path"]
    assert (WORKBOOK_MODULE.parent / loaded).resolve() == workbook_files()[0]


def test_it_is_listed_on_the_app_insights_and_function_app_pages() -> None:
    assert variable(WORKBOOK_MODULE, "sources") == ["applicationInsightsId", "functionAppId"]
    resource = parse(WORKBOOK_MODULE)["resources"]["workbooks"]["config"]
    assert resource["loop_type"]["detail"] == {"item_name": "source", "array_name": "sources"}
    properties = resource["config"]["properties"]
    assert properties["sourceId"] == "source"
    assert properties["category"] == "workbook"
    module = parse(MAIN)["modules"]["workbook"]["config"]["params"]
    assert accessed(module["functionAppId"]) == "function.outputs.id"
    assert accessed(module["applicationInsightsId"]) == "monitoring.outputs.applicationInsightsId"
    assert accessed(module["workspaceId"]) == "monitoring.outputs.workspaceId"


def accessed(node: Any) -> str:
    """``a.b.c`` from pycep's nested property accessors."""
    if isinstance(node, str):
        return node
    operands = node["operator"]["operands"]
    return f"{accessed(operands['operand_1'])}.{accessed(operands['operand_2'])}"


def test_the_json_is_a_notebook_with_the_asked_for_sections_in_order() -> None:
    book = the_workbook()
    assert book["version"] == "Notebook/1.0"
    groups = [i["content"]["title"] for i in book["items"] if i["type"] == 12]
    assert tuple(groups) == SECTIONS
    names = [item["name"] for item in workbook_items(book["items"])]
    assert len(names) == len(set(names)), "item names must be unique"


def test_it_names_no_resource_of_its_own() -> None:
    text = json.dumps(the_workbook())
    assert "/subscriptions/" not in text.lower()
    assert the_workbook()["fallbackResourceIds"] == [WORKSPACE_PLACEHOLDER]


def test_time_range_queue_and_kind_parameters_come_first() -> None:
    [parameters] = [i for i in the_workbook()["items"] if i["type"] == 9]
    by_name = {p["name"]: p for p in parameters["content"]["parameters"]}
    assert set(by_name) == {"TimeRange", "Queue", "Kind"}
    assert by_name["TimeRange"]["type"] == 4
    for name in ("Queue", "Kind"):
        dropdown = by_name[name]
        assert dropdown["type"] == 2
        assert dropdown["multiSelect"] is True
        assert dropdown["quote"] == "'"
        assert dropdown["delimiter"] == ","
        assert dropdown["typeSettings"]["selectAllValue"] == "*"
        assert dropdown["defaultValue"] == "value::all"
    first_chart = next(i for i in workbook_items(the_workbook()["items"]) if i["type"] == 3)
    assert the_workbook()["items"].index(parameters) < the_workbook()["items"].index(
        next(i for i in the_workbook()["items"] if i["type"] == 12)
    )
    assert first_chart["name"] == "completed-per-minute"


def test_every_query_reads_the_workspace_in_the_chosen_time_range() -> None:
    [path] = workbook_files()
    for query in workbook_queries(path):
        item = query.item
        assert item["resourceType"] == "microsoft.operationalinsights/workspaces", query.name
        assert item["crossComponentResources"] == [WORKSPACE_PLACEHOLDER], query.name
        assert item["timeContextFromParameter"] == "TimeRange", query.name
        assert "{TimeRange}" in query.text, f"{query.name} is not filtered by the time range"


def test_every_chart_is_filtered_by_queue_and_kind() -> None:
    [path] = workbook_files()
    charts = [q for q in workbook_queries(path) if q.visualization != "parameter"]
    assert len(charts) >= 6
    for chart in charts:
        if chart.name in NOT_BY_QUEUE_OR_KIND:
            assert "{Queue}" not in chart.text
            assert "{Kind}" not in chart.text
            continue
        assert '"*" in ({Queue})' in chart.text, f"{chart.name} ignores the Queue parameter"
        assert '"*" in ({Kind})' in chart.text, f"{chart.name} ignores the Kind parameter"


def test_the_oldest_waiting_chart_names_the_alert_threshold() -> None:
    threshold = parse(INFRA / "app" / "alerts.bicep")["parameters"]["maxWaitMinutes"]["default"]
    [path] = workbook_files()
    [chart] = [q for q in workbook_queries(path) if q.name == "oldest-waiting"]
    assert f"alert above {threshold})" in chart.title
    assert "oldest_age_s" in chart.text
