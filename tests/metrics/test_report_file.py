"""The report file reader: a snapshot of a known file, every layout Microsoft can send, constant memory."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
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


def test_small_chunks_give_the_same_rows_as_one_block() -> None:
    # Tiny chunks cut the file inside quoted fields, multi-line cells and the footer: the result must not change.
    with ReportFile(SMALL) as whole, ReportFile(SMALL, chunk_size=7) as pieces:
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


def test_excluded_column_headers_need_the_columns_given() -> None:
    with ReportFile(_file(HEADER + DATA + FOOTER), columns=COLUMNS) as report:
        assert _summary(report) == EXPECTED


def test_header_is_typed() -> None:
    with ReportFile(_file([*HEADER, COLUMNS, *DATA, *FOOTER])) as report:
        assert (report.header.report_name, report.header.rows) == ("r", 2)
        assert report.header.start == report.header.end and str(report.header.start) == "2024-01-05"


def test_totals_rows_and_the_footer_are_not_data() -> None:
    total = ["Total", "", "", "", "", "140", "5", "3.21"]
    with ReportFile(_file([COLUMNS, *DATA, total, *FOOTER])) as report:
        assert _summary(report) == EXPECTED


def test_an_empty_report_has_no_rows() -> None:
    with ReportFile(_file([["Report Name: r"], ["Rows: 0"], [], COLUMNS, *FOOTER])) as report:
        assert list(report) == []


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


def _peak_memory(path: Path, rows: int) -> int:
    line = '"2024-01-05","111","Brand","444","Hello, world","100","5","3.21"\r\n'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("r.csv", "w") as out:
        out.write(("\ufeff" + ",".join(f'"{c}"' for c in COLUMNS) + "\r\n").encode())
        for _ in range(rows // 1000):
            out.write((line * 1000).encode())
    tracemalloc.start()
    try:
        with ReportFile(path) as report:
            assert sum(1 for _ in report) == rows
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_reading_a_large_file_uses_constant_memory(tmp_path: Path) -> None:
    small = _peak_memory(tmp_path / "small.zip", 30_000)
    large = _peak_memory(tmp_path / "large.zip", 150_000)
    # Five times the rows (~10 MB of CSV), about the same peak: one decoded block and its cells at a time.
    assert large < small * 1.25 + 1_000_000, f"peak {small / 1e6:.1f} MB for 30k rows, {large / 1e6:.1f} MB for 150k"
    assert large < 32 * 1024 * 1024


def test_rows_are_typed_named_tuples() -> None:
    with ReportFile(SMALL) as report:
        first = next(iter(report))
    assert isinstance(first, AdPerformanceRow)
    assert (type(first.account_id), type(first.spend), type(first.impressions)) == (int, float, int)


def test_a_quoted_separator_inside_a_field_is_read_by_the_careful_path() -> None:
    tricky = ["2024-01-05", "111", 'say "a","b" twice', "444", "x", "100", "5", "3.21"]
    with ReportFile(_file([COLUMNS, tricky, DATA[0], *FOOTER])) as report:
        rows = list(report)
    assert [r.campaign_name for r in rows] == ['say "a","b" twice', "Brand"]
