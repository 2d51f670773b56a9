"""Read a downloaded report file (reference 5.4) as a stream of typed rows, in constant memory.

The file is a zip holding one CSV (or TSV): a UTF-8 BOM, a header block of `"Label: value"` lines, a blank line,
the column row, the data rows, a blank line and the `"©YYYY Microsoft Corporation. All rights reserved. "`
footer. Any part may be missing (ExcludeReportHeader, ExcludeColumnHeaders, ExcludeReportFooter).

Speed: Microsoft quotes every field, so a block of about a megabyte of whole lines is cut into cells with one
`str.split('","')`, and each column is typed at once with `map` (ids and days through a cache, as they repeat on
every row); `""` escapes are undone per text column. A block that does not fit (a line break or `","` inside a
field, a footer or "Total" row) goes through Python's `csv` module instead, and a column with a `--` or a
thousands separator through per-cell converters, so the result is the same either way. Only one block is held in
memory.

Typing rules (Microsoft is silent on some; the SDK's `ReportFileReader` is our reference): `--` ("does not apply")
becomes None for ids, text and dates and 0 for measures, as the SDK's numeric getters do; `Ctr` "1.23%" becomes
1.23; money stays a float with the file's two decimals; unknown columns are skipped.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import IO, Any, NamedTuple

from bingbridge.api.models import reporting as m
from bingbridge.errors import ReportFileError


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


# wire column -> how its cells are typed
_KINDS: dict[str, str] = {
    "TimePeriod": "date",
    "AccountId": "id",
    "CampaignId": "id",
    "AdGroupId": "id",
    "AdId": "id",
    "Impressions": "count",
    "Clicks": "count",
    "Spend": "number",
    "Conversions": "number",
    "Revenue": "number",
    "AllConversions": "number",
    "AverageCpc": "number",
    "Ctr": "percent",
}
_FIELDS = AdPerformanceRow._fields
assert set(m.AD_PERFORMANCE_COLUMNS.values()) == set(_FIELDS), "AdPerformanceRow must cover every known column"


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


_NA = m.NOT_APPLICABLE.encode()
_BOM = codecs.BOM_UTF8
# Distinct texts remembered per file (names, titles, URLs repeat on every day); past this the memo starts over.
_TEXT_MEMO_LIMIT = 100_000


class _Memo(dict[bytes, Any]):
    """Cell bytes -> typed value, converted once per distinct cell: ids, days and names repeat on every row."""

    def __init__(self, convert: Any) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, key: bytes) -> Any:
        value = self[key] = self._convert(key)
        return value


def _date(raw: bytes) -> dt.date | None:
    return None if raw in (_NA, b"") else dt.date.fromisoformat(raw.decode())


def _id(raw: bytes) -> int | None:
    return None if raw in (_NA, b"") else int(raw)


def _text(raw: bytes) -> str | None:
    # Undoing `""` is safe on every cell: the fast path only accepts blocks where quotes come in such pairs.
    return None if raw == _NA else raw.decode().replace('""', '"')


def _cell(kind: str, text: str) -> Any:
    """The careful conversion of one cell, `--` and thousands separators included (the slow path)."""
    if text == m.NOT_APPLICABLE or (text == "" and kind != "text"):
        return {"count": 0, "number": 0.0, "percent": 0.0}.get(kind)
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "id":
        return int(text)
    if kind == "count":
        return int(text.replace(",", ""))
    if kind == "number":
        return float(text.replace(",", ""))
    if kind == "percent":
        return float(text.rstrip("%").replace(",", ""))
    return text


class _Misparsed(Exception):
    """The one-split fast path cannot read a block with certainty: read it with the csv module instead."""


class ColumnBatch(NamedTuple):
    """Consecutive rows of a report as typed columns (field -> values); fields absent from the file are missing."""

    length: int
    columns: dict[str, list[Any]]

    def rows(self) -> Iterator[AdPerformanceRow]:
        """The batch as AdPerformanceRow tuples."""
        parts = [self.columns.get(f) or repeat(None, self.length) for f in _FIELDS]
        return map(_new_row, zip(*parts, strict=False))


_new_row = partial(tuple.__new__, AdPerformanceRow)


class _Typer:
    """Types whole columns of raw cells at once: C-level `map` over a column costs far less than a call per cell."""

    def __init__(self) -> None:
        self.dates = _Memo(_date)
        self.ids = _Memo(_id)
        self.texts = _Memo(_text)

    def column(self, kind: str, values: list[bytes], escaped: bool) -> list[Any]:
        """Type one column; `escaped`: the block has `""` escapes somewhere."""
        try:
            if kind == "text":
                if escaped:
                    joined = b"\x00".join(values)
                    if b'"' in joined and b'"' in joined.replace(b'""', b""):
                        raise _Misparsed  # a lone quote: a `","` inside a field misled the split
                if len(self.texts) > _TEXT_MEMO_LIMIT:
                    self.texts.clear()
                return list(map(self.texts.__getitem__, values))
            if kind == "date":
                return list(map(self.dates.__getitem__, values))
            if kind == "id":
                return list(map(self.ids.__getitem__, values))
            if kind == "count":
                return list(map(int, values))
            if kind == "number":
                return list(map(float, values))
            return [float(v[:-1]) for v in values]  # percent: "1.23%"
        except ValueError:  # "--", "1,000" (FormatVersion 1.0), or something that is no number
            pass
        try:
            return [_cell(kind, v.decode()) for v in values]
        except ValueError:
            raise _Misparsed from None


class ReportFile:
    """A report file opened for streaming: `header`, `columns`, and iteration over typed rows or column batches.

    >>> with ReportFile("report.zip") as report:
    ...     for row in report:
    ...         print(row.time_period, row.ad_id, row.spend)

    `source` is a path or a binary file object holding the zip (or a bare CSV/TSV). Give `columns` when the file
    was requested with ExcludeColumnHeaders. After iteration, `rows_read` counts the data rows; when the header
    states a row count and it differs, iteration ends with ReportFileError (a truncated or damaged download).
    Memory stays near `chunk_size` bytes of the file whatever its size. Microsoft's files are UTF-8.
    """

    def __init__(
        self, source: str | Path | IO[bytes], *, columns: Sequence[str] | None = None, chunk_size: int = 1 << 20
    ) -> None:
        self._owned: list[Any] = []
        binary = open(source, "rb") if isinstance(source, str | Path) else source  # noqa: SIM115
        if binary is not source:
            self._owned.append(binary)
        self._raw = self._open_member(binary)
        self._chunk_size = chunk_size
        self._buffer = b""
        self._started = False
        self._eof = False
        self._newline = b"\r\n"
        self.rows_read = 0
        self.delimiter = ","
        self.header = self._read_header()
        self.columns = self._read_columns(columns)
        self._fields = [m.AD_PERFORMANCE_COLUMNS.get(c) for c in self.columns]
        self._kinds = [_KINDS.get(c, "text") for c in self.columns]
        self._typer = _Typer()

    # ---- reading lines and blocks ----

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

    def _fill(self) -> bool:
        """Read the next chunk into the buffer; False at the end of the file."""
        if self._eof:
            return False
        data = self._raw.read(self._chunk_size)
        if not self._started:
            self._started = True
            data = data.removeprefix(_BOM)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def _read_line(self) -> str:
        """The next line, decoded, without its line break ("" at the end of the file)."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
                if line.endswith(b"\r"):
                    line = line[:-1]
                else:
                    self._newline = b"\n"
                return line.decode()
            if not self._fill():
                line, self._buffer = self._buffer, b""
                return line.decode()

    def _unread(self, line: str) -> None:
        self._buffer = line.encode() + self._newline + self._buffer

    def _read_header(self) -> ReportFileHeader:
        values: dict[str, str] = {}
        while True:
            line = self._read_line()
            if not line.strip():
                if values or (self._eof and not self._buffer):
                    break
                continue
            cells = next(csv.reader([line]))
            label, sep, value = cells[0].partition(": ") if len(cells) == 1 else ("", "", "")
            key = m.REPORT_FILE_HEADER_LABELS.get(label) if sep else None
            if key is None:
                self._unread(line)  # no (more) header: this is the column row or data
                break
            values[key] = value
        return parse_header(values)

    def _read_columns(self, given: Sequence[str] | None) -> list[str]:
        line = self._read_line()
        while not line.strip() and (self._buffer or not self._eof):
            line = self._read_line()
        if not line.strip():
            return list(given or [])
        if '"\t"' in line and '","' not in line:
            self.delimiter = "\t"
        cells = next(csv.reader([line], delimiter=self.delimiter))
        if given is not None and cells != list(given) and cells and cells[0] not in m.AD_PERFORMANCE_COLUMNS:
            self._unread(line)  # ExcludeColumnHeaders: the first line is already data
            return list(given)
        return cells

    def _blocks(self) -> Iterator[bytes]:
        """Runs of whole data lines, each ending with a line break, up to the blank line before the footer."""
        newline = self._newline
        blank = newline + newline
        while True:
            if self._buffer.startswith(newline):
                return  # the blank line before the footer
            end = self._buffer.find(blank)
            if end >= 0:
                block = self._buffer[: end + len(newline)]
                if not block.count(b'"') % 2:
                    self._buffer = b""
                    if block:
                        yield block
                    return
                # the blank line is inside a quoted field: read on
            cut = self._buffer.rfind(newline) + len(newline)
            if cut >= len(newline):
                block = self._buffer[:cut]
                # Cut only between records: an odd number of quotes means a field runs on past the cut.
                if not block.count(b'"') % 2:
                    self._buffer = self._buffer[cut:]
                    yield block
            if not self._fill():
                if self._buffer.strip():
                    yield self._buffer if self._buffer.endswith(newline) else self._buffer + newline
                self._buffer = b""
                return

    # ---- typed output ----

    def batches(self) -> Iterator[ColumnBatch]:
        """The data as typed column batches (about `chunk_size` bytes each): the fastest way through a file."""
        count = 0
        for block in self._blocks():
            try:
                batch = self._fast(block)
            except _Misparsed:
                batch = self._slow(block)
            count += batch.length
            if batch.length:
                yield batch
        self.rows_read = count
        if self.header.rows is not None and self.header.rows != count:
            raise ReportFileError(f"the report header says {self.header.rows} rows but the file has {count}")

    def _fast(self, block: bytes) -> ColumnBatch:
        """All cells of a block with one split, then whole columns typed at once. A block it cannot read with
        certainty raises _Misparsed: a footer or totals row, or a line break or `","` inside a field (those add
        cells, so the count no longer matches the lines)."""
        newline = self._newline
        if block[:1] != b'"' or b'"\xc2\xa9' in block or block.startswith(b'"Total') or newline + b'"Total' in block:
            raise _Misparsed
        separator = f'"{self.delimiter}"'.encode()
        lines = block.count(newline)
        flat = block[1 : -len(newline) - 1].replace(b'"' + newline + b'"', separator).split(separator)
        width = len(self.columns)
        if len(flat) != lines * width or width < 3:
            raise _Misparsed
        escaped = block.count(b'"') != 2 * len(flat)
        columns = {}
        for i, (field, kind) in enumerate(zip(self._fields, self._kinds, strict=True)):
            if field is not None:
                columns[field] = self._typer.column(kind, flat[i::width], escaped)
        return ColumnBatch(lines, columns)

    def _slow(self, block: bytes) -> ColumnBatch:
        try:
            text = block.decode()
        except UnicodeDecodeError as exc:
            raise ReportFileError(f"the report is not UTF-8: {exc}") from None
        values: list[list[Any]] = [[] for _ in self.columns]
        length = 0
        for cells in csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter):
            first = cells[0].strip() if cells else ""
            if not first or first.startswith(("©", "Total")):
                continue  # a blank line, the footer or a totals row (the SDK skips these too)
            if len(cells) != len(self.columns):
                raise ReportFileError(f"a row has {len(cells)} cells, the file has {len(self.columns)} columns")
            for target, kind, cell in zip(values, self._kinds, cells, strict=True):
                try:
                    target.append(_cell(kind, cell))
                except ValueError:
                    raise ReportFileError(f"cannot read {cell!r} as {kind}") from None
            length += 1
        columns = {f: v for f, v in zip(self._fields, values, strict=True) if f is not None}
        return ColumnBatch(length, columns)

    def __iter__(self) -> Iterator[AdPerformanceRow]:
        for batch in self.batches():
            yield from batch.rows()

    def close(self) -> None:
        for handle in reversed(self._owned):
            handle.close()
        self._owned.clear()

    def __enter__(self) -> ReportFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
