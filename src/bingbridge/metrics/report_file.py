"""Read a downloaded report file (reference 5.4) as a stream of typed rows, in constant memory.

The file is a zip holding one CSV (or TSV): a UTF-8 BOM, a header block of `"Label: value"` lines, a blank line,
the column row, the data rows, a blank line and the `"©YYYY Microsoft Corporation. All rights reserved. "`
footer. Any part may be missing (ExcludeReportHeader, ExcludeColumnHeaders, ExcludeReportFooter).

Speed: the header block and the column row are read line by line; the data goes to pyarrow's streaming CSV reader
(C++, quotes, `""` escapes and line breaks inside fields included), one block of `block_size` bytes at a time.
Ids and measures are parsed to int64/float64 by Arrow; days and texts come back dictionary-encoded, so each
distinct cell of a block is typed once in Python and the column is built by index. A number Arrow cannot parse (a
thousands separator, FormatVersion 1.0) makes the reader start over with every cell typed in Python, skipping the
rows already given, so the rules below hold either way. pyarrow is imported on first read, not with this module:
the CLI starts without it.

Typing rules (Microsoft is silent on some; the SDK's `ReportFileReader` is our reference): `--` ("does not apply")
becomes None for ids, text and dates and 0 for measures, as the SDK's numeric getters do; `Ctr` "1.23%" becomes
1.23; money stays a float with the file's two decimals; an Hourly TimePeriod ("2024-01-01|13") becomes a datetime
at that hour; unknown columns are skipped. Columns are known from `bingbridge.metrics.report_types.COLUMNS`, so
every report type is read the same way.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import re
import time
import weakref
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import compress, repeat
from pathlib import Path
from typing import IO, Any, NamedTuple

from bingbridge.api.models import reporting as m
from bingbridge.errors import ReportFileError
from bingbridge.metrics.report_types import AD, COLUMNS


class AdPerformanceRow(NamedTuple):
    """One row of an ad performance report; columns absent from the file are None."""

    time_period: dt.date | None
    account_id: int | None
    account_name: str | None
    account_number: str | None
    campaign_id: int | None
    campaign_name: str | None
    ad_group_id: int | None
    ad_group_name: str | None
    ad_id: int | None
    ad_title: str | None
    ad_type: str | None
    ad_status: str | None
    final_url: str | None
    currency_code: str | None
    device_type: str | None
    network: str | None
    impressions: int | None
    clicks: int | None
    spend: float | None
    conversions: float | None
    revenue: float | None
    all_conversions: float | None
    ctr: float | None
    average_cpc: float | None


_FIELDS = AdPerformanceRow._fields
assert {COLUMNS[c].name for c in AD.known_columns} == set(_FIELDS), "AdPerformanceRow must cover the ad columns"


@dataclass(frozen=True)
class ReportFileHeader:
    """The header block; every part is None when the file has no header (ExcludeReportHeader)."""

    report_name: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    time_zone: str | None = None
    last_completed_available_day: dt.datetime | None = None
    last_completed_available_hour: dt.datetime | None = None
    aggregation: str | None = None
    report_filter: str | None = None
    potential_incomplete_data: bool | None = None
    rows: int | None = None


def _us_date(text: str) -> dt.date:
    month, day, year = (int(part) for part in text.strip().split("/"))
    return dt.date(year, month, day)


def _us_datetime(text: str) -> dt.datetime | None:
    # "2/1/2024 10:15:00 AM (GMT)"; the zone in brackets is always GMT in Microsoft's files.
    cleaned = text.split("(")[0].strip()
    for layout in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S"):
        try:
            return dt.datetime.strptime(cleaned, layout).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def parse_header(values: dict[str, str]) -> ReportFileHeader:
    """Type the `Label: value` pairs of the header block (labels as in reference 5.4)."""
    start = end = None
    report_time = values.get("report_time", "").strip()
    if report_time:
        first, _, last = report_time.partition(",")
        start = _us_date(first)
        end = _us_date(last) if last.strip() else start
    incomplete = values.get("potential_incomplete_data")
    rows = values.get("rows")
    return ReportFileHeader(
        report_name=values.get("report_name"),
        start=start,
        end=end,
        time_zone=values.get("time_zone"),
        last_completed_available_day=_us_datetime(values.get("last_completed_available_day", "")),
        last_completed_available_hour=_us_datetime(values.get("last_completed_available_hour", "")),
        aggregation=values.get("aggregation"),
        report_filter=values.get("report_filter"),
        potential_incomplete_data=None if incomplete is None else incomplete.strip().lower() == "true",
        rows=int(rows.replace(",", "")) if rows and rows.strip() else None,
    )


_BOM = codecs.BOM_UTF8
# Rows that are not data: the footer and totals rows (the SDK skips these too).
_NOT_DATA = ("©", "Total")
# Distinct cells remembered per column across blocks (days repeat on every row); past this the memo starts over.
_MEMO_LIMIT = 10_000
# Ids and measures Arrow parses itself; the rest is dictionary-encoded text typed in Python.
_ARROW_KINDS = {"id": "int64", "count": "int64", "number": "float64", "money": "float64"}
_ARROW_MISPARSED = re.compile(r"CSV conversion error to (int64|double)")
# Bytes Arrow reads at a time. It reads a few dozen blocks ahead and its work per block grows with the block, so this
# sets the memory used: the 1,000,000-row benchmark (bench/report_reader.py) peaks near 93 MB RSS with 128 KiB
# blocks, some 80 MB of it pyarrow's own, and near 100 MB with 256 KiB ones, which read a little faster.
_BLOCK_SIZE = 1 << 17


def _cell(kind: str, text: str) -> Any:
    """One cell typed by the rules in the module docstring."""
    if text == m.NOT_APPLICABLE or (text == "" and kind != "text"):
        return {"count": 0, "number": 0.0, "money": 0.0, "percent": 0.0}.get(kind)
    if kind == "date":
        day, bar, hour = text.partition("|")  # Hourly, FormatVersion 2.0: "2024-01-01|13"
        if bar:
            return dt.datetime.fromisoformat(day).replace(hour=int(hour))
        return dt.date.fromisoformat(text)
    if kind == "id":
        return int(text)
    if kind == "count":
        return int(text.replace(",", ""))
    if kind in ("number", "money"):
        return float(text.replace(",", ""))
    if kind == "percent":
        return float(text.rstrip("%").replace(",", ""))
    return text


class _Memo(dict[str, Any]):
    """Cell text -> typed value, converted once per distinct cell: days (and, read carefully, ids) repeat."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def __missing__(self, text: str) -> Any:
        try:
            value = self[text] = _cell(self.kind, text)
        except ValueError:
            raise ReportFileError(f"cannot read {text!r} as {self.kind}") from None
        return value


class _Column(NamedTuple):
    """A column of the file that we read: where it is, what it becomes, and its memo of typed cells (text needs
    none: it only turns `--` into None)."""

    position: int
    field: str | None  # None: an unknown first column, read only to spot totals rows
    kind: str
    memo: _Memo

    def parsed_by_arrow(self, careful: bool) -> bool:
        """Whether Arrow types this column (an id or a measure, unless reading carefully) or hands over its text."""
        return self.kind in _ARROW_KINDS and not careful


def _raw(array: Any, width: int) -> memoryview:
    """The value buffer of a fixed-width Arrow array (`width` bytes a value, its offset applied), uncopied."""
    start = array.offset * width
    return memoryview(array.buffers()[1])[start : start + len(array) * width]


def _invalid_bits(array: Any) -> Iterator[int]:
    """Positions of the nulls of an Arrow array (only called when it has some)."""
    bits = bytes(array.buffers()[0])
    offset = array.offset
    return (i for i in range(len(array)) if not bits[(i + offset) >> 3] >> ((i + offset) & 7) & 1)


class ColumnBatch(NamedTuple):
    """Consecutive rows of a report as typed columns (field -> values); fields absent from the file are missing."""

    length: int
    columns: dict[str, list[Any]]

    def rows(self) -> Iterator[AdPerformanceRow]:
        """The batch as AdPerformanceRow tuples."""
        parts = [self.columns.get(f) or repeat(None, self.length) for f in _FIELDS]
        return map(_new_row, zip(*parts, strict=False))


_new_row = partial(tuple.__new__, AdPerformanceRow)


def _close_all(handles: list[Any]) -> None:
    for handle in reversed(handles):
        handle.close()
    handles.clear()


def _not_data(cell: str) -> bool:
    return cell.lstrip().startswith(_NOT_DATA)


def _not_data_indices(cells: list[str]) -> set[int]:
    """Which of a column's distinct cells mark rows that are not data; one quick look first, as they are rare."""
    joined = "\n".join(cells)
    if not any(word in joined for word in _NOT_DATA):
        return set()
    return {i for i, cell in enumerate(cells) if _not_data(cell)}


class _Feed:
    """What Arrow's CSV reader calls back: the file object it reads the data from, and its call for malformed rows."""

    closed = False  # pyarrow checks this before it reads from a Python file object

    def __init__(self, stream: IO[bytes], problems: list[str]) -> None:
        self._stream = stream
        self._problems = problems

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def invalid_row(self, row: Any) -> str:
        """A row with the wrong number of cells: the footer is skipped, anything else is an error."""
        if _not_data(row.text.strip().strip('"')):
            return "skip"
        self._problems.append(f"a row has {row.actual_columns} cells, the file has {row.expected_columns} columns")
        return "error"


class _ArrowPass:
    """One read of the data by Arrow's streaming CSV reader.

    Arrow reads ahead in threads of its own that call back into Python (_Feed). close() returns only once Arrow has
    let go of the feed: a call that comes while the interpreter shuts down aborts the process ("PyGILState_Release
    ... finalizing", as in apache/arrow#39503); ReportFile closes its passes at exit for that reason.
    """

    # How long close() waits for Arrow to let go of the feed; it takes about a millisecond.
    RELEASE_TIMEOUT_SECONDS = 5.0

    def __init__(self) -> None:
        self._reader: Any = None
        self._feed: weakref.ref[_Feed] | None = None

    def open(self, stream: IO[bytes], problems: list[str], delimiter: str, **options: Any) -> None:
        """Start Arrow's reader on `stream` (positioned at the data); options as for `pyarrow.csv.open_csv`."""
        import pyarrow.csv as pa_csv

        feed = _Feed(stream, problems)
        self._feed = weakref.ref(feed)
        parse = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=feed.invalid_row)
        try:
            self._reader = pa_csv.open_csv(feed, parse_options=parse, **options)
        finally:
            del feed, parse  # Arrow's alone, even when it raised and a traceback keeps this frame

    def next_batch(self) -> Any:
        """The next record batch, None at the end."""
        if self._reader is None:
            raise ReportFileError("the report file was closed while it was being read")
        try:
            return self._reader.read_next_batch()
        except StopIteration:
            return None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None  # the only reference: Arrow's reader goes now, with its read-ahead
        deadline = time.monotonic() + self.RELEASE_TIMEOUT_SECONDS
        while self._feed is not None and self._feed() is not None and time.monotonic() < deadline:
            time.sleep(0.001)  # lets Arrow's threads take the GIL to drop their reference


class _StartOver(Exception):
    """Arrow could not parse an id or a measure: read again with all cells typed in Python."""


class ReportFile:
    """A report file opened for streaming: `header`, `columns`, and iteration over typed rows or column batches.

    >>> with ReportFile("report.zip") as report:
    ...     for row in report:
    ...         print(row.time_period, row.ad_id, row.spend)

    `source` is a path or a seekable binary file object holding the zip (or a bare CSV/TSV). Give `columns` when
    the file was requested with ExcludeColumnHeaders. After iteration, `rows_read` counts the data rows; when the
    header states a row count and it differs, iteration ends with ReportFileError (a truncated or damaged
    download). Memory depends on `block_size` (see _BLOCK_SIZE), not on the file's size; a row must fit in one
    block. Microsoft's files are UTF-8.
    """

    def __init__(
        self, source: str | Path | IO[bytes], *, columns: Sequence[str] | None = None, block_size: int = _BLOCK_SIZE
    ) -> None:
        # What close() closes, last opened first; also at garbage collection and at exit, as an Arrow reader left
        # open then would be torn down while the interpreter finalizes (which aborts it).
        self._owned: list[Any] = []
        self._finalizer = weakref.finalize(self, _close_all, self._owned)
        binary = open(source, "rb") if isinstance(source, str | Path) else source  # noqa: SIM115
        if binary is not source:
            self._owned.append(binary)
        self._stream = self._open_member(binary)
        self._block_size = block_size
        self._problems: list[str] = []  # malformed rows Arrow came across
        self.rows_read = 0
        self.delimiter = ","
        if self._stream.read(len(_BOM)) != _BOM:
            self._stream.seek(0)
        # Where the data starts: lines of the header block and the column row move it on once they are read.
        self._data_start = self._stream.tell()
        self._line_end = self._data_start
        self.header = self._read_header()
        self.columns = self._read_columns(columns)

    # ---- the header block and the column row, line by line ----

    def _open_member(self, binary: IO[bytes]) -> IO[bytes]:
        start = binary.read(4)
        binary.seek(0)
        if start != b"PK\x03\x04":
            return binary
        archive = zipfile.ZipFile(binary)
        self._owned.append(archive)
        names = archive.namelist()
        if not names:
            raise ReportFileError("the report zip is empty")
        member = archive.open(names[0])  # Microsoft's SDK also reads the first entry only
        self._owned.append(member)
        return member

    def _line(self) -> str | None:
        """The line at the data start, decoded, without its line break; None at the end of the file."""
        self._stream.seek(self._data_start)
        raw = self._stream.readline()
        self._line_end = self._stream.tell()
        if not raw:
            return None
        try:
            return raw.rstrip(b"\r\n").decode()
        except UnicodeDecodeError as exc:
            raise ReportFileError(f"the report is not UTF-8: {exc}") from None

    def _consume(self) -> None:
        """The line last read is not data."""
        self._data_start = self._line_end

    def _read_header(self) -> ReportFileHeader:
        values: dict[str, str] = {}
        while (line := self._line()) is not None:
            if not line.strip():
                self._consume()
                if values:
                    break
                continue
            cells = next(csv.reader([line]))
            label, sep, value = cells[0].partition(": ") if len(cells) == 1 else ("", "", "")
            key = m.REPORT_FILE_HEADER_LABELS.get(label) if sep else None
            if key is None:
                break  # no (more) header: this is the column row or data
            values[key] = value
            self._consume()
        return parse_header(values)

    def _read_columns(self, given: Sequence[str] | None) -> list[str]:
        line = self._line()
        while line is not None and not line.strip():
            self._consume()
            line = self._line()
        if line is None:
            return list(given or [])
        if '"\t"' in line and '","' not in line:
            self.delimiter = "\t"
        cells = next(csv.reader([line], delimiter=self.delimiter))
        if given is not None and cells != list(given) and cells and cells[0] not in COLUMNS:
            return list(given)  # ExcludeColumnHeaders: the first line is already data
        self._consume()
        return cells

    # ---- the data, through Arrow ----

    def _plan(self) -> list[_Column]:
        """The columns to read: every known one, and the first whatever it is (totals rows say so there)."""
        plan = []
        for position, name in enumerate(self.columns):
            known = COLUMNS.get(name)
            field, kind = (known.name, known.kind) if known else (None, "text")
            if field is not None or position == 0:
                plan.append(_Column(position, field, kind, _Memo(kind)))
        return plan

    def _record_batches(self, plan: list[_Column], careful: bool) -> Iterator[Any]:
        """The data rows as Arrow record batches (only the planned columns); `careful`: ids and measures as text too."""
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        names = [str(i) for i in range(len(self.columns))]
        text = pa.dictionary(pa.int32(), pa.string())
        types = {
            names[c.position]: pa.type_for_alias(_ARROW_KINDS[c.kind]) if c.parsed_by_arrow(careful) else text
            for c in plan
        }
        self._stream.seek(self._data_start)
        arrow = _ArrowPass()
        self._owned.append(arrow)
        try:
            arrow.open(
                self._stream,
                self._problems,
                self.delimiter,
                read_options=pa_csv.ReadOptions(column_names=names, block_size=self._block_size),
                convert_options=pa_csv.ConvertOptions(
                    column_types=types,
                    include_columns=[names[c.position] for c in plan],
                    # only the columns Arrow parses take these as null; text keeps "--" and "" as they are
                    null_values=[m.NOT_APPLICABLE, ""],
                    strings_can_be_null=False,
                ),
                memory_pool=pa.system_memory_pool(),
            )
            while (batch := arrow.next_batch()) is not None:
                yield batch
        except pa.ArrowInvalid as exc:
            message = str(exc)
            if self._problems:
                raise ReportFileError(self._problems[-1]) from None
            if message.startswith("Empty CSV file"):
                return  # nothing after the column row
            if not careful and _ARROW_MISPARSED.search(message):
                raise _StartOver from None
            if "straddling" in message:
                message = f"a row is longer than the block size ({self._block_size} bytes)"
            raise ReportFileError(f"cannot read the report: {message}") from None
        finally:
            arrow.close()
            if arrow in self._owned:  # not yet closed with the file
                self._owned.remove(arrow)

    def _typed(self, plan: list[_Column], batch: Any, careful: bool) -> ColumnBatch:
        """An Arrow record batch as typed Python columns, totals rows dropped."""
        length = batch.num_rows
        keep: list[bool] | None = None
        columns: dict[str, list[Any]] = {}
        for column, array in zip(plan, batch.columns, strict=True):
            values: list[Any]
            if column.parsed_by_arrow(careful):
                raw = _raw(array, 8)
                values = raw.cast("d").tolist() if column.kind in ("number", "money") else raw.cast("q").tolist()
                if array.null_count:  # "--" or an empty cell
                    absent = _cell(column.kind, m.NOT_APPLICABLE)
                    for i in _invalid_bits(array):
                        values[i] = absent
            else:
                # Dictionary-encoded: type each distinct cell once, then pick by index.
                cells = array.dictionary.to_pylist()
                indices = _raw(array.indices, 4).cast("i")
                if column.position == 0 and (not_data := _not_data_indices(cells)):
                    keep = [i not in not_data for i in indices]  # a totals row, or a one-column report's footer
                if keep is not None:
                    # Type only the cells of the rows kept: a totals row may hold anything.
                    used = set(compress(indices, keep))
                    cells = [cell if i in used else "" for i, cell in enumerate(cells)]
                table: list[Any]
                if column.kind == "text":
                    table = [None if cell == m.NOT_APPLICABLE else cell for cell in cells]
                else:
                    if len(column.memo) > _MEMO_LIMIT:
                        column.memo.clear()
                    table = list(map(column.memo.__getitem__, cells))
                values = [table[0]] * length if len(table) == 1 else [table[i] for i in indices]
            if column.field is not None:
                columns[column.field] = values
        if keep is not None:
            length = sum(keep)
            columns = {field: list(compress(values, keep)) for field, values in columns.items()}
        return ColumnBatch(length, columns)

    # ---- typed output ----

    def batches(self) -> Iterator[ColumnBatch]:
        """The data as typed column batches (one per block of the file): the fastest way through a file."""
        count = 0
        if self.columns:
            plan = self._plan()
            given = 0  # Arrow rows handed on so far (totals rows included): where a careful read takes over
            for careful in (False, True):
                skip = given
                try:
                    for batch in self._record_batches(plan, careful):
                        if skip:  # rows the first read gave already
                            dropped = min(skip, batch.num_rows)
                            batch, skip = batch.slice(dropped), skip - dropped
                        typed = self._typed(plan, batch, careful)
                        given += batch.num_rows
                        count += typed.length
                        if typed.length:
                            yield typed
                except _StartOver:
                    continue
                break
        self.rows_read = count
        if self.header.rows is not None and self.header.rows != count:
            raise ReportFileError(f"the report header says {self.header.rows} rows but the file has {count}")

    def __iter__(self) -> Iterator[AdPerformanceRow]:
        for batch in self.batches():
            yield from batch.rows()

    def close(self) -> None:
        """Stop Arrow's reader and close the files; iteration cannot go on."""
        self._finalizer()

    def __enter__(self) -> ReportFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
