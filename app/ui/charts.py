"""Server-rendered SVG charts: drawn with the page, no JavaScript, nothing from another host.

Each function returns an ``<svg>`` as ``Markup`` that scales to its container's width (viewBox)
with a fixed height, and draws its axes even without data (an empty chart still says "0").
"""
import datetime as dt
import math

from markupsafe import Markup, escape

W, H = 480, 170
PAD_L, PAD_R, PAD_T, PAD_B = 56, 12, 14, 24
COLORS = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2")


def _fmt_time(epoch, step):
    t = dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    return t.strftime("%H:%M" if step < 86400 / 4 else "%m-%d")


def _nice_max(value):
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above ``value`` (1 for nothing)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * magnitude * (1 + 1e-9):
            return factor * magnitude
    return value


def _svg(title, body, height=H):
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {W} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        f'{body}</svg>')


def line_chart(title, times, series, fmt=str):
    """Lines over time: ``series`` is [(label, [value or None per time])]; y from 0."""
    values = [v for _, vals in series for v in vals if v is not None]
    top = _nice_max(max(values, default=0))
    step = (times[1] - times[0]) if len(times) > 1 else 60
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    n = max(len(times) - 1, 1)

    def xy(i, v):
        return PAD_L + plot_w * i / n, PAD_T + plot_h * (1 - v / top)

    parts = _axes(top, fmt, plot_w, plot_h)
    for k in (0, len(times) // 2, len(times) - 1):
        if 0 <= k < len(times):
            x = xy(k, 0)[0]
            anchor = "start" if k == 0 else "end" if k == len(times) - 1 else "middle"
            parts.append(f'<text x="{x:.1f}" y="{H - 6}" text-anchor="{anchor}">'
                         f'{_fmt_time(times[k], step)}</text>')
    for idx, (label, vals) in enumerate(series):
        color = COLORS[idx % len(COLORS)]
        for run in _runs(vals):  # a gap (no data) breaks the line instead of dropping to 0
            points = " ".join("{:.1f},{:.1f}".format(*xy(i, v)) for i, v in run)
            mark = ' stroke-linecap="round"' if len(run) == 1 else ""
            if len(run) == 1:   # a lone point: a dot-length segment so it shows
                x, y = xy(*run[0])
                points = f"{x - 1:.1f},{y:.1f} {x + 1:.1f},{y:.1f}"
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{mark} '
                         f'points="{points}"><title>{escape(label)}</title></polyline>')
        parts.append(f'<text x="{PAD_L + 8 + idx * 60}" y="{PAD_T + 10}" fill="{color}">'
                     f'{escape(label)}</text>')
    return _svg(title, "".join(parts))


def _runs(values):
    """Consecutive (index, value) stretches without None."""
    runs, current = [], []
    for i, v in enumerate(values):
        if v is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, v))
    return runs + ([current] if current else [])


def _axes(top, fmt, plot_w, plot_h):
    parts = []
    for frac in (0, 0.5, 1):
        y = PAD_T + plot_h * (1 - frac)
        parts.append(f'<line class="grid" x1="{PAD_L}" x2="{PAD_L + plot_w}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(fmt(top * frac))}</text>')
    return parts


def bar_chart(title, items, fmt=str):
    """Horizontal bars: ``items`` is [(label, value)], biggest first."""
    items = list(items)[:10]
    row = 22
    height = max(H // 2, PAD_T + row * max(len(items), 1) + 8)
    top = _nice_max(max((v for _, v in items), default=0))
    x0, width = 130, W - 130 - 70
    parts = []
    if not items:
        parts.append(f'<text x="{W / 2}" y="{height / 2}" text-anchor="middle">no data yet</text>')
    for i, (label, value) in enumerate(items):
        y = PAD_T + i * row
        w = max(width * value / top, 1)
        parts.append(f'<text x="{x0 - 6}" y="{y + 14}" text-anchor="end">'
                     f'{escape(str(label)[:20])}</text>')
        parts.append(f'<rect x="{x0}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
                     f'fill="{COLORS[0]}"><title>{escape(label)}: {escape(fmt(value))}</title>'
                     f'</rect>')
        parts.append(f'<text x="{x0 + w + 6:.1f}" y="{y + 14}">{escape(fmt(value))}</text>')
    parts.append(f'<line class="grid" x1="{x0}" x2="{x0}" y1="{PAD_T - 4}" '
                 f'y2="{height - 4}"/>')
    return _svg(title, "".join(parts), height)


def column_chart(title, times, values, fmt=str):
    """Vertical bars over days (spend per day)."""
    top = _nice_max(max(values, default=0))
    plot_w, plot_h = W - PAD_L - PAD_R, H - PAD_T - PAD_B
    n = max(len(values), 1)
    slot = plot_w / n
    parts = _axes(top, fmt, plot_w, plot_h)
    for i, value in enumerate(values):
        h = plot_h * value / top
        x = PAD_L + i * slot
        parts.append(f'<rect x="{x + slot * 0.15:.1f}" y="{PAD_T + plot_h - h:.1f}" '
                     f'width="{slot * 0.7:.1f}" height="{max(h, 0):.1f}" fill="{COLORS[2]}">'
                     f'<title>{_fmt_time(times[i], 86400)}: {escape(fmt(value))}</title></rect>')
    for k in (0, len(times) - 1):
        if 0 <= k < len(times):
            anchor = "start" if k == 0 else "end"
            x = PAD_L if k == 0 else PAD_L + plot_w
            parts.append(f'<text x="{x}" y="{H - 6}" text-anchor="{anchor}">'
                         f'{_fmt_time(times[k], 86400)}</text>')
    return _svg(title, "".join(parts))


def money(value):
    """Dollars with at least 2 decimals (up to 6 for sub-cent amounts: $0.000045)."""
    value = float(value or 0)
    if 0 < abs(value) < 0.01:
        return "$" + f"{value:.6f}".rstrip("0")
    return f"${value:,.2f}"


def compact(value):
    """A short number for an axis: 1.2k, 3.4M."""
    value = float(value or 0)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"
