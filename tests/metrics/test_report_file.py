"""The report file reader: a snapshot of a known file, every layout Microsoft can send, constant memory."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest

from bingbridge.errors import ReportFileError
from bingbridge.metrics.report_file import AdPerformanceRow, ReportFile

FIXTURES = Path(__file__).parent.parent / "fixtures" / "reports"
SMALL = FIXTURES / "ad_performance_small.zip"
SNAPSHOT = FIXTURES / "ad_performance_small.parsed.json"
COLUMNS = ["TimePeriod", "AccountId", "CampaignName", "AdId", "AdTitle", "Impressions", "Clicks", "Spend"]


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def parsed(report: ReportFile) -> dict[str, Any]:
    """Everything the reader makes of a file, as JSON-ready data."""
    rows = [{k: _plain(v) for k, v in row._asdict().items() if v is not None} for row in report]
    header = {k: _plain(v) for k, v in dataclasses.asdict(report.header).items()}
    return {"header": header, "columns": report.columns, "rows": rows}


def test_parsed_output_of_a_known_file_matches_the_snapshot() -> None:
    with ReportFile(SMALL) as report:
        got = parsed(report)
    if os.environ.get("BINGBRIDGE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n")
    assert got == json.loads(SNAPSHOT.read_text()), "parser output changed; review, then BINGBRIDGE_UPDATE_SNAPSHOTS=1"


def test_small_blocks_give_the_same_rows_as_one_block() -> None:
    # Blocks barely longer than a row cut the file between rows, around the multi-line cell and before the footer:
    # the result must not change.
    with ReportFile(SMALL) as whole, ReportFile(SMALL, block_size=300) as pieces:
        assert list(pieces) == list(whole)


def _file(lines: list[list[str]], *, newline: str = "\r\n", delimiter: str = ",", bom: bool = True) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator=newline)
    for line in lines:
        if line:
            writer.writerow(line)
        else:
            text.write(newline)
    payload = io.BytesIO()
    with zipfile.ZipFile(payload, "w") as archive:
        archive.writestr("report.csv", text.getvalue().encode("utf-8-sig" if bom else "utf-8"))
    payload.seek(0)
    return payload


HEADER = [["Report Name: r"], ["Report Time: 1/5/2024"], ["Rows: 2"], []]
DATA = [
    ["2024-01-05", "111", "Brand", "444", "Hello", "100", "5", "3.21"],
    ["2024-01-05", "111", "Brand", "445", "--", "40", "--", "--"],
]
FOOTER = [[], ["©2024 Microsoft Corporation. All rights reserved. "]]
EXPECTED = [(444, "Hello", 100, 5, 3.21), (445, None, 40, 0, 0.0)]


def _summary(report: ReportFile) -> list[tuple[Any, ...]]:
    return [(r.ad_id, r.ad_title, r.impressions, r.clicks, r.spend) for r in report]


@pytest.mark.parametrize(
    ("lines", "kwargs"),
    [
        pytest.param([*HEADER, COLUMNS, *DATA, *FOOTER], {}, id="full-crlf"),
        pytest.param([*HEADER, COLUMNS, *DATA, *FOOTER], {"newline": "\n"}, id="full-lf"),
        pytest.param([*HEADER, COLUMNS, *DATA, *FOOTER], {"bom": False}, id="no-bom"),
        pytest.param([*HEADER, COLUMNS, *DATA, *FOOTER], {"delimiter": "\t"}, id="tsv"),
        pytest.param([COLUMNS, *DATA, *FOOTER], {}, id="exclude-report-header"),
        pytest.param([*HEADER, COLUMNS, *DATA], {}, id="exclude-report-footer"),
    ],
)
def test_every_layout_gives_the_same_rows(lines: list[list[str]], kwargs: dict[str, Any]) -> None:
    with ReportFile(_file(lines, **kwargs)) as report:
        assert report.columns == COLUMNS
        assert _summary(report) == EXPECTED


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([*HEADER, *DATA, *FOOTER], id="exclude-column-headers"),
        pytest.param(DATA, id="exclude-header-columns-and-footer"),
    ],
)
def test_excluded_column_headers_need_the_columns_given(lines: list[list[str]]) -> None:
    with ReportFile(_file(lines), columns=COLUMNS) as report:
        assert report.columns == COLUMNS
        assert _summary(report) == EXPECTED


def test_header_is_typed() -> None:
    with ReportFile(_file([*HEADER, COLUMNS, *DATA, *FOOTER])) as report:
        assert (report.header.report_name, report.header.rows) == ("r", 2)
        assert report.header.start == report.header.end and str(report.header.start) == "2024-01-05"


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_totals_rows_and_the_footer_are_not_data(delimiter: str) -> None:
    total = ["Total", "", "", "", "", "140", "5", "3.21"]
    lines = [*HEADER, COLUMNS, DATA[0], total, DATA[1], total, *FOOTER]
    with ReportFile(_file(lines, delimiter=delimiter)) as report:
        assert _summary(report) == EXPECTED
        assert report.rows_read == 2


@pytest.mark.parametrize(
    "first",
    [
        pytest.param("Impressions", id="a-measure"),  # "Total" is no number: the careful read drops it
        pytest.param("Keyword", id="an-unknown-column"),  # read only to find totals rows
    ],
)
def test_a_totals_row_is_dropped_whatever_the_first_column(first: str) -> None:
    # The totals row's "all" is no id either: its cells are not typed.
    lines = [[first, "AdId", "Spend"], ["100", "444", "3.21"], ["Total", "all", "3.21"], ["40", "445", "--"], *FOOTER]
    with ReportFile(_file(lines)) as report:
        assert [(r.impressions, r.ad_id, r.spend) for r in report] == [
            (100 if first == "Impressions" else None, 444, 3.21),
            (40 if first == "Impressions" else None, 445, 0.0),
        ]


def test_a_one_column_report_still_ends_at_the_footer() -> None:
    with ReportFile(_file([["AdId"], ["444"], ["445"], *FOOTER])) as report:
        assert [r.ad_id for r in report] == [444, 445]


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param([["Report Name: r"], ["Rows: 0"], [], COLUMNS, *FOOTER], id="with-footer"),
        pytest.param([["Report Name: r"], ["Rows: 0"], [], COLUMNS], id="without-footer"),
        pytest.param([["Report Name: r"], ["Rows: 0"]], id="header-only"),
    ],
)
def test_an_empty_report_has_no_rows(lines: list[list[str]]) -> None:
    with ReportFile(_file(lines)) as report:
        assert list(report) == []
        assert report.rows_read == 0


def test_a_truncated_file_is_an_error() -> None:
    header = [["Report Name: r"], ["Rows: 3"], []]
    with (
        ReportFile(_file([*header, COLUMNS, *DATA, *FOOTER])) as report,
        pytest.raises(ReportFileError, match="3 rows"),
    ):
        list(report)


def test_a_row_with_too_few_cells_is_an_error() -> None:
    with ReportFile(_file([COLUMNS, DATA[0][:5]])) as report, pytest.raises(ReportFileError, match="5 cells"):
        list(report)


def test_a_row_longer_than_a_block_is_an_error() -> None:
    with ReportFile(_file([COLUMNS, *DATA]), block_size=32) as report, pytest.raises(ReportFileError, match="block"):
        list(report)


@pytest.mark.parametrize(
    ("position", "cell", "message"),
    [(5, "many", "'many' as count"), (3, "1,444", "'1,444' as id"), (0, "5/1/2024", "'5/1/2024' as date")],
)
def test_a_cell_that_cannot_be_typed_is_an_error(position: int, cell: str, message: str) -> None:
    bad = [*DATA[0][:position], cell, *DATA[0][position + 1 :]]
    with ReportFile(_file([COLUMNS, DATA[1], bad])) as report, pytest.raises(ReportFileError, match=message):
        list(report)


def test_not_applicable_and_empty_cells_by_kind() -> None:
    # TimePeriod, AccountId, CampaignName, AdId, AdTitle, Impressions, Clicks, Spend
    with ReportFile(_file([COLUMNS, ["--", "", "", "--", "--", "--", "", "--"]])) as report:
        (row,) = list(report)
    assert (row.time_period, row.account_id, row.campaign_name, row.ad_id, row.ad_title) == (None, None, "", None, None)
    assert (row.impressions, row.clicks, row.spend) == (0, 0, 0.0)
    assert (type(row.impressions), type(row.spend)) == (int, float)


def test_thousands_separators_and_percentages() -> None:
    # FormatVersion 1.0 writes "1,234.56"; the first blocks are given before the reader meets one, and the careful
    # read that takes over must neither repeat nor lose rows.
    columns = ["AdId", "Impressions", "Clicks", "Spend", "Ctr"]
    plain = [["444", "100", "5", "3.21", "5.00%"]] * 40
    lines = [columns, *plain, ["445", "12,345", "1,000", "1,234.56", "8.10%"], ["446", "--", "--", "--", "--"]]
    with ReportFile(_file([*lines, *FOOTER]), block_size=256) as report:
        got = [(r.ad_id, r.impressions, r.clicks, r.spend, r.ctr) for r in report]
    assert got == [(444, 100, 5, 3.21, 5.0)] * 40 + [(445, 12345, 1000, 1234.56, 8.1), (446, 0, 0, 0.0, 0.0)]


_LINE = '"2024-01-05","111","Brand","444","Hello, world","100","5","3.21"\r\n'


def _peak_memory(path: Path, rows: int) -> int:
    """The most Python and Arrow memory held at once while reading a generated file of `rows` rows."""
    import pyarrow as pa

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("r.csv", "w") as out:
        out.write(("\ufeff" + ",".join(f'"{c}"' for c in COLUMNS) + "\r\n").encode())
        for _ in range(rows // 1000):
            out.write((_LINE * 1000).encode())
    arrow = pa.system_memory_pool()  # the pool the reader hands Arrow; tracemalloc sees only Python's memory
    held = 0
    tracemalloc.start()
    try:
        # Small blocks, so that Arrow's read-ahead (a few dozen blocks) is far smaller than either file.
        with ReportFile(path, block_size=16_384) as report:
            count = 0
            for batch in report.batches():
                count += batch.length
                held = max(held, arrow.bytes_allocated())
        assert count == rows
        return tracemalloc.get_traced_memory()[1] + held
    finally:
        tracemalloc.stop()


def test_reading_a_large_file_uses_constant_memory(tmp_path: Path) -> None:
    small = _peak_memory(tmp_path / "small.zip", 30_000)
    large = _peak_memory(tmp_path / "large.zip", 150_000)
    # Five times the rows (~10 MB of CSV), about the same peak: the blocks read ahead and one batch of cells.
    assert large < small * 1.25 + 1_000_000, f"peak {small / 1e6:.1f} MB for 30k rows, {large / 1e6:.1f} MB for 150k"
    assert large < 8 * 1024 * 1024


def test_rows_are_typed_named_tuples() -> None:
    with ReportFile(SMALL) as report:
        first = next(iter(report))
    assert isinstance(first, AdPerformanceRow)
    assert (type(first.account_id), type(first.spend), type(first.impressions)) == (int, float, int)


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_quotes_separators_and_line_breaks_inside_text_fields(newline: str, delimiter: str) -> None:
    campaign = 'say "a","b" twice,\tand "c"'
    title = 'line one\r\nline "two", then\nthree'
    tricky = ["2024-01-05", "111", campaign, "444", title, "100", "5", "3.21"]
    lines = [*HEADER, COLUMNS, tricky, DATA[1], *FOOTER]
    with ReportFile(_file(lines, newline=newline, delimiter=delimiter), block_size=256) as report:
        rows = list(report)
    assert [(r.campaign_name, r.ad_title, r.spend) for r in rows] == [(campaign, title, 3.21), ("Brand", None, 0.0)]


def test_importing_the_reader_does_not_load_pyarrow() -> None:
    # The CLI imports the importer on start-up; pyarrow (~0.1 s, ~40 MB) loads only when a report is read.
    code = "import sys, bingbridge.metrics.importer; sys.exit('pyarrow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_leaving_a_report_half_read_lets_the_interpreter_exit(tmp_path: Path) -> None:
    # Arrow reads ahead in threads that call back into Python; one still doing so while the interpreter shuts
    # down aborts the process. Closing (or the exit hook, for a file never closed) waits until Arrow lets go.
    path = tmp_path / "r.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("r.csv", ",".join(f'"{c}"' for c in COLUMNS) + "\r\n" + _LINE * 20_000)
    code = (
        "import sys\n"
        "from bingbridge.metrics.report_file import ReportFile\n"
        "report = ReportFile(sys.argv[1], block_size=4096)\n"
        "rows = iter(report)\n"
        "next(rows)\n"
        "if sys.argv[2] == 'close':\n"
        "    report.close()\n"
    )
    for ending in ("close", "leave", "close", "leave"):
        done = subprocess.run([sys.executable, "-c", code, str(path), ending], capture_output=True, check=False)
        assert (done.returncode, done.stderr) == (0, b""), ending
