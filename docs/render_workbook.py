"""Draw the workbook's layout from its JSON, as docs/guide.md shows it: every section, chart and
table where the portal puts them, each table with the columns its query returns (from the Kusto
language service) and each chart with its series. Lines and rows are placeholders, not data.

    .venv/bin/python -m docs.render_workbook          # writes docs/workbook.png

Needs chromium (Debian: apt-get install chromium), and pngquant to keep the PNG small if it is
there; CI does not run it.
"""

from __future__ import annotations

import html
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.infra.kql import analyze
from tests.infra.queries import (
    PARAMETER_VALUES,
    functions,
    workbook,
    workbook_files,
    workbook_queries,
)

DOCS = Path(__file__).resolve().parent
WIDTH = 1200
CHART_HEIGHT = 150
ROW_HEIGHT = 22
COLORS = ("#0078d4", "#e3008c", "#00a36c", "#ff8c00", "#8764b8", "#038387")
STYLE = """
body { margin: 0; font: 13px 'Segoe UI', 'DejaVu Sans', sans-serif; color: #323130;
       background: #fff; width: %(width)dpx; }
.page { padding: 12px 20px; }
h1 { font-size: 22px; font-weight: 600; margin: 4px 0 6px; }
.intro p { margin: 0 0 4px; color: #605e5c; line-height: 1.35; }
.intro code { background: #f3f2f1; padding: 0 3px; }
.params { display: flex; gap: 8px; margin: 10px 0 6px; }
.pill { border: 1px solid #8a8886; border-radius: 12px; padding: 2px 12px; }
.pill b { font-weight: 600; }
.group { margin-top: 10px; }
.group > .title { font-size: 15px; font-weight: 600; padding: 4px 0;
                  border-bottom: 1px solid #edebe9; }
.row { display: flex; gap: 12px; margin-top: 8px; }
.card { flex: 1 1 0; border: 1px solid #edebe9; padding: 6px 8px; min-width: 0; }
.card .t { font-weight: 600; margin-bottom: 4px; white-space: nowrap; overflow: hidden;
           text-overflow: ellipsis; }
.legend { font-size: 11px; color: #605e5c; margin-top: 2px; white-space: nowrap; overflow: hidden; }
.legend span { margin-right: 10px; }
.legend i { display: inline-block; width: 10px; height: 3px; margin-right: 4px;
            vertical-align: middle; }
table { border-collapse: collapse; width: 100%%; table-layout: fixed; font-size: 11.5px; }
th { text-align: left; font-weight: 600; border-bottom: 1px solid #c8c6c4; padding: 2px 4px;
     white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
td { padding: 4px; height: %(row)dpx; box-sizing: border-box; }
td span { display: block; height: 7px; background: #edebe9; border-radius: 3px; }
.note { color: #a19f9d; font-size: 11px; margin-top: 10px; }
"""


def main() -> None:
    [path] = workbook_files()
    book = workbook(path)
    analyses = analyze(
        {q.name: q.expanded(PARAMETER_VALUES[0]) for q in workbook_queries(path)}, functions()
    )
    columns = {name: list(a.columns) for name, a in analyses.items()}
    page = render(book, columns, path.relative_to(DOCS.parent).as_posix())
    png = DOCS / "workbook.png"
    with tempfile.TemporaryDirectory() as scratch:
        out_html = Path(scratch) / "workbook.html"
        out_html.write_text(page, encoding="utf-8")
        screenshot(out_html, png)
    quantizer = shutil.which("pngquant")
    if quantizer:
        subprocess.run(
            [quantizer, "--quality=60-85", "--speed=1", "--force", f"--output={png}", str(png)],
            check=True,
            timeout=120,
        )
    print(f"wrote {png.relative_to(DOCS.parent)}")


def render(book: dict[str, Any], columns: dict[str, list[tuple[str, str]]], source: str) -> str:
    body = [_item(item, columns) for item in book["items"]]
    note = (
        f'<div class="note">Layout drawn from {html.escape(source)} by docs/render_workbook.py. '
        "Columns come from the queries; lines and rows are placeholders, not data.</div>"
    )
    style = STYLE % {"width": WIDTH, "row": ROW_HEIGHT}
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head>"
        f"<body><div class='page'>{''.join(body)}{note}</div>"
        # The page's height, for the second, screenshot pass (see screenshot()).
        "<script>document.title = 'height=' + document.body.scrollHeight</script></body></html>"
    )


def _item(item: dict[str, Any], columns: dict[str, list[tuple[str, str]]]) -> str:
    content = item["content"]
    if item["type"] == 1:
        return f"<div class='intro'>{_markdown(content['json'])}</div>"
    if item["type"] == 9:
        pills = "".join(_pill(p) for p in content["parameters"])
        return f"<div class='params'>{pills}</div>"
    if item["type"] == 12:
        rows, row = [], []
        for child in content["items"]:
            row.append(_card(child, columns))
            if child.get("customWidth") != "50" or len(row) == 2:
                rows.append(f"<div class='row'>{''.join(row)}</div>")
                row = []
        if row:
            rows.append(f"<div class='row'>{''.join(row)}</div>")
        title = html.escape(content["title"])
        return f"<div class='group'><div class='title'>{title}</div>{''.join(rows)}</div>"
    raise ValueError(f"item type {item['type']} is not drawn")


def _pill(parameter: dict[str, Any]) -> str:
    label = html.escape(parameter.get("label", parameter["name"]))
    if parameter["type"] == 4:
        hours = parameter["value"]["durationMs"] // 3_600_000
        value = f"Last {hours} hours"
    else:
        value = "All"
    return f"<div class='pill'>{label}: <b>{value}</b></div>"


def _card(item: dict[str, Any], columns: dict[str, list[tuple[str, str]]]) -> str:
    content = item["content"]
    result = columns[item["name"]]
    if content["visualization"] == "timechart":
        drawing = _chart(item["name"], result, content["query"])
    else:
        drawing = _table(result)
    return f"<div class='card'><div class='t'>{html.escape(content['title'])}</div>{drawing}</div>"


def _chart(name: str, result: list[tuple[str, str]], query: str) -> str:
    numbers = [c for c, t in result if t in ("long", "int", "real", "decimal")]
    series_of = re.search(r"by (\w+) = strcat|by (\w+), bin", query)
    series_column = next((g for g in series_of.groups() if g), "") if series_of else ""
    labels = _series_labels(series_column, query)
    rng = random.Random(name)
    width, height = 540, CHART_HEIGHT
    lines = []
    for n, _ in enumerate(labels):
        level = rng.uniform(0.25, 0.75)
        points = []
        for step in range(0, 49):
            level = min(0.95, max(0.05, level + rng.uniform(-0.08, 0.08)))
            x, y = 30 + step * (width - 40) / 48, 10 + (1 - level) * (height - 30)
            points.append(f"{x:.0f},{y:.0f}")
        color = COLORS[n % len(COLORS)]
        drawn = " ".join(points)
        lines.append(
            f"<polyline fill='none' stroke='{color}' stroke-width='1.6' points='{drawn}'/>"
        )
    y_label = html.escape(numbers[0] if numbers else "")
    text = "font-size='10' fill='#605e5c'"
    axis = (
        f"<line x1='30' y1='{height - 20}' x2='{width - 10}' y2='{height - 20}' stroke='#c8c6c4'/>"
        f"<line x1='30' y1='8' x2='30' y2='{height - 20}' stroke='#c8c6c4'/>"
        f"<text x='2' y='16' {text}>{y_label}</text>"
        f"<text x='{width - 80}' y='{height - 6}' {text}>TimeGenerated</text>"
    )
    svg = f"<svg width='100%' viewBox='0 0 {width} {height}'>{axis}{''.join(lines)}</svg>"
    legend = "".join(
        f"<span><i style='background:{COLORS[n % len(COLORS)]}'></i>{html.escape(label)}</span>"
        for n, label in enumerate(labels)
    )
    return f"{svg}<div class='legend'>{legend}</div>"


def _series_labels(column: str, query: str) -> list[str]:
    """Example series names in the shape the query builds them."""
    if column == "series" and "outcome" in query:
        return ["run_jobs failed", "run_jobs timeout", "run_jobs_long failed"]
    if column == "series" and "source" in query:
        return ["jobs-poison (host)", "jobs-poison (storage)", "jobs-poison (app)"]
    if column == "series":
        return ["jobs / echo", "jobs-long / transform"]
    return ["jobs", "jobs-long", "jobs-control", "jobs-poison"]


def _table(result: list[tuple[str, str]]) -> str:
    header = "".join(f"<th title='{html.escape(t)}'>{html.escape(c)}</th>" for c, t in result)
    rng = random.Random(",".join(c for c, _ in result))
    rows = "".join(
        "<tr>"
        + "".join(f"<td><span style='width:{rng.randint(35, 90)}%'></span></td>" for _ in result)
        + "</tr>"
        for _ in range(3)
    )
    return f"<table><tr>{header}</tr>{rows}</table>"


def _markdown(text: str) -> str:
    """The little Markdown the workbook's text uses: a heading, bold, italics and code."""
    parts = []
    for block in text.strip().split("\n# "):
        lines = block.lstrip("# ").split("\n")
        heading, rest = lines[0], " ".join(lines[1:])
        inline = html.escape(rest)
        inline = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", inline)
        inline = re.sub(r"\*(.+?)\*", r"<i>\1</i>", inline)
        inline = re.sub(r"`(.+?)`", r"<code>\1</code>", inline)
        parts.append(f"<h1>{html.escape(heading)}</h1><p>{inline}</p>")
    return "".join(parts)


def screenshot(page: Path, png: Path) -> None:
    """Load the page once to learn its height, then screenshot exactly that much."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("chromium is not installed (Debian: apt-get install chromium)")
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ]
    dom = subprocess.run(
        [browser, *flags, f"--window-size={WIDTH},1000", "--dump-dom", page.as_uri()],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    measured = re.search(r"<title>height=(\d+)</title>", dom)
    if measured is None:
        sys.exit("chromium did not report the page's height")
    subprocess.run(
        [
            browser,
            *flags,
            f"--window-size={WIDTH},{int(measured.group(1))}",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


if __name__ == "__main__":
    main()
