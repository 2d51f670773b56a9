"""The SVG line charts of the dashboard: exact coordinates for known data, labels, accessibility, no data."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

from bingbridge.metrics.charts import compact_number, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [dt.date(2026, 3, 1), dt.date(2026, 3, 2), dt.date(2026, 3, 3)]


def test_points_are_placed_on_the_plot_area() -> None:
    svg = line_chart(list(zip(DAYS, [10.0, 20.0, 5.0], strict=True)), title="Clicks per day", chart_id="c")
    root = ET.fromstring(svg)
    # x from 64 to 624 (640 wide, margins 64 and 16); y from 16 (top tick, 20) to 204 (zero).
    assert root.find(f"{SVG}polyline").get("points") == "64.0,110.0 344.0,16.0 624.0,157.0"
    assert root.find(f"{SVG}polygon").get("points") == "64.0,204.0 64.0,110.0 344.0,16.0 624.0,157.0 624.0,204.0"
    circles = [(c.get("cx"), c.get("cy"), c.find(f"{SVG}title").text) for c in root.iter(f"{SVG}circle")]
    assert circles == [
        ("64.0", "110.0", "2026-03-01: 10"),
        ("344.0", "16.0", "2026-03-02: 20"),
        ("624.0", "157.0", "2026-03-03: 5"),
    ]


def test_axes_have_nice_ticks_and_day_labels() -> None:
    svg = line_chart(list(zip(DAYS, [10.0, 20.0, 5.0], strict=True)), title="Clicks", chart_id="c")
    labels = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert labels == ["0", "5", "10", "15", "20", "Mar 1", "Mar 2", "Mar 3"]


def test_the_chart_describes_itself_for_screen_readers() -> None:
    svg = line_chart(
        list(zip(DAYS, [10.0, 20.0, 5.0], strict=True)),
        title="Spend <per> day",
        chart_id="spend",
        value_format=lambda v: f"{v:.2f} USD",
    )
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "spend-title spend-desc"
    assert root.find(f"{SVG}title").text == "Spend <per> day"  # escaped in the markup, intact when parsed
    assert root.find(f"{SVG}desc").text == (
        "2026-03-01 to 2026-03-03: total 35.00 USD, highest 20.00 USD on 2026-03-02."
    )
    assert "style=" not in svg  # styled by class only: the page's CSP forbids inline styles


def test_a_long_range_labels_six_days_and_drops_markers() -> None:
    days = [dt.date(2025, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    svg = line_chart([(d, float(i % 7)) for i, d in enumerate(days)], title="t", chart_id="c")
    root = ET.fromstring(svg)
    assert [t.text for t in root.iter(f"{SVG}text")][-6:] == ["Jan 1", "Mar 15", "May 27", "Aug 7", "Oct 19", "Dec 31"]
    assert root.find(f"{SVG}circle") is None
    assert len(root.find(f"{SVG}polyline").get("points").split()) == 365


def test_one_day_is_a_point_in_the_middle() -> None:
    root = ET.fromstring(line_chart([(DAYS[0], 4.0)], title="t", chart_id="c"))
    assert root.find(f"{SVG}polyline") is None
    circle = root.find(f"{SVG}circle")
    assert (circle.get("cx"), circle.get("cy")) == ("344.0", "16.0")


def test_no_data_says_so() -> None:
    svg = line_chart([], title="Clicks", chart_id="c")
    assert re.search(r"<text[^>]*>No data in this range</text>", svg)
    assert ET.fromstring(svg).find(f"{SVG}desc").text == "No data in this range."


def test_all_zero_values_draw_a_flat_line_at_the_bottom() -> None:
    root = ET.fromstring(line_chart(list(zip(DAYS, [0.0, 0.0, 0.0], strict=True)), title="t", chart_id="c"))
    assert root.find(f"{SVG}polyline").get("points") == "64.0,204.0 344.0,204.0 624.0,204.0"


def test_nice_ticks() -> None:
    assert nice_ticks(20) == [0, 5, 10, 15, 20]
    assert nice_ticks(1234) == [0, 500, 1000, 1500]
    assert nice_ticks(0.37) == [0, 0.1, 0.2, 0.3, 0.4]
    assert nice_ticks(0) == [0, 1]


def test_compact_numbers() -> None:
    assert [compact_number(v) for v in (0, 3, 0.5, 1500, 12345, 2_500_000, 3.2e9)] == [
        "0", "3", "0.5", "1.5k", "12.3k", "2.5M", "3.2B",
    ]  # fmt: skip
