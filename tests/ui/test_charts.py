"""The SVG chart helpers: axes, gaps, empty data, escaping, money formatting."""
import re

from app.ui import charts


def test_money_has_at_least_two_decimals():
    assert charts.money(0) == "$0.00"
    assert charts.money(12.5) == "$12.50"
    assert charts.money(1234.567) == "$1,234.57"
    assert charts.money(0.000045) == "$0.000045"
    assert charts.money(0.002) == "$0.002"


def test_nice_axis_maximum():
    assert charts._nice_max(0) == 1.0
    assert charts._nice_max(0.006) == 0.01
    assert charts._nice_max(0.012) == 0.02
    assert charts._nice_max(3) == 5
    assert charts._nice_max(100) == 100
    assert charts._nice_max(101) == 200


def test_line_chart_breaks_at_gaps_and_draws_empty_data():
    times = [0, 60, 120, 180, 240]
    svg = str(charts.line_chart("t", times, [("p50", [1, 2, None, 4, 5])]))
    assert svg.startswith('<svg class="chart"') and svg.count("<polyline") == 2
    empty = str(charts.line_chart("t", times, [("n", [0] * 5)], charts.compact))
    assert "<polyline" in empty and ">0</text>" in empty


def test_bar_chart_escapes_labels_and_says_when_empty():
    svg = str(charts.bar_chart("top", [("<b>x</b>", 2.0), ("y", 1.0)], charts.money))
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg and "$2.00" in svg
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]
    assert widths[0] == 2 * widths[1]
    assert "no data yet" in str(charts.bar_chart("top", []))
