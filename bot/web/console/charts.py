"""Charts drawn on the server as SVG geometry (templates/console/_charts.html renders it).

Why SVG from the server rather than Chart.js: the dashboard then works without JavaScript,
under the strict CSP (shapes carry presentation attributes, not style attributes), prints, and
its output is plain markup the Flask-client tests and the screenshots can check
deterministically. The figures are small (a bar per day, a row per agency), so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Distinguishable colours (Okabe–Ito, then darker and lighter variants) for up to 14 series.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
           "#004c7a", "#8c6d00", "#006b4e", "#8e4a73", "#3b7ea1", "#9a3b00", "#7f7f7f")


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str      # shown on hover (SVG <title>), and read by screen readers


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"    # start | middle | end


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: tuple[Bar, ...]
    labels: tuple[Label, ...]
    legend: tuple[tuple[str, str], ...]    # (colour, name)
    empty: bool


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: tuple[int, ...]


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def short(label: str, most: int = 40) -> str:
    """A row label that fits beside its bar (the whole label is in the bar's title)."""
    return label if len(label) <= most else label[: most - 1] + "…"


def stacked_columns(ticks: Sequence[str], series: Sequence[Series], width: int = 960,
                    height: int = 220) -> Chart:
    """One column per tick (a day), stacked by series (a category)."""
    left, bottom, top = 34, 22, 8
    n = max(len(ticks), 1)
    totals = [sum(s.values[i] for s in series) for i in range(len(ticks))]
    peak = max(totals, default=0)
    scale = (height - bottom - top) / peak if peak else 0
    slot = (width - left) / n
    bars: list[Bar] = []
    for i, tick in enumerate(ticks):
        y: float = height - bottom
        for k, s in enumerate(series):
            v = s.values[i]
            if v:
                h = v * scale
                y -= h
                bars.append(Bar(left + i * slot + slot * 0.1, y, slot * 0.8, h, colour(k), f"{tick}: {s.name} {v}"))
    labels = [Label(left - 4, top + 8, str(peak), "end"), Label(left - 4, height - bottom, "0", "end")]
    every = max(1, round(n / 8))      # about eight day labels, whatever the period
    labels += [Label(left + i * slot + slot / 2, height - 6, t, "middle")
               for i, t in enumerate(ticks) if i % every == 0]
    return Chart(width, height, tuple(bars), tuple(labels),
                 tuple((colour(k), s.name) for k, s in enumerate(series)), peak == 0)


def stacked_rows(rows: Sequence[tuple[str, Sequence[int]]], names: Sequence[str], width: int = 960,
                 row_height: int = 24, label_width: int = 300) -> Chart:
    """One horizontal bar per row (an agency), stacked by `names` (statuses); the total at its end."""
    totals = [sum(v) for _, v in rows]
    peak = max(totals, default=0)
    usable = width - label_width - 40
    scale = usable / peak if peak else 0
    bars: list[Bar] = []
    labels: list[Label] = []
    for r, (row, values) in enumerate(rows):
        y = r * row_height + 4
        x = float(label_width)
        labels.append(Label(label_width - 6, y + row_height * 0.6, short(row), "end"))
        for k, v in enumerate(values):
            if v:
                bars.append(Bar(x, y, v * scale, row_height - 8, colour(k), f"{row}: {names[k]} {v}"))
                x += v * scale
        labels.append(Label(x + 4, y + row_height * 0.6, str(totals[r])))
    height = max(len(rows), 1) * row_height + 8
    return Chart(width, height, tuple(bars), tuple(labels),
                 tuple((colour(k), n) for k, n in enumerate(names)) if len(names) > 1 else (), peak == 0)


def single_rows(rows: Sequence[tuple[str, float, str]], peak: float | None = None, width: int = 960,
                row_height: int = 24, label_width: int = 300) -> Chart:
    """One bar per row: (label, value, value as shown); `peak` fixes the scale (1.0 for shares)."""
    top = peak if peak is not None else max((v for _, v, _ in rows), default=0)
    usable = width - label_width - 110     # room for "100% dari 1234" after the longest bar
    scale = usable / top if top else 0
    bars: list[Bar] = []
    labels: list[Label] = []
    for r, (row, value, shown) in enumerate(rows):
        y = r * row_height + 4
        w = value * scale
        labels.append(Label(label_width - 6, y + row_height * 0.6, short(row), "end"))
        if w:
            bars.append(Bar(label_width, y, w, row_height - 8, colour(r if peak is None else 2), f"{row}: {shown}"))
        labels.append(Label(label_width + w + 4, y + row_height * 0.6, shown))
    return Chart(width, max(len(rows), 1) * row_height + 8, tuple(bars), tuple(labels), (), top == 0)
