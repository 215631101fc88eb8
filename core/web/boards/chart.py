"""Chart geometry: the shapes (bars, polylines, pie slices, funnel stages,
ticks, legend) of a chart in a fixed box, computed on the server so that
``web/graph.html`` only places them as SVG — no charting script in the page.
Pure arithmetic on the categories and series it is given; no database.
"""
import math

import flask_babel

PALETTE = ("#2f6eb5", "#e8833a", "#3a9a5b", "#c9473d", "#8a63b8", "#8c6d4f", "#d36fae", "#6f7782",
           "#a8a83a", "#2fa5b5")
WIDTH, HEIGHT = 720, 380
LEFT, TOP, RIGHT, BOTTOM = 72, 56, 700, 320


def svg_chart(kind, categories, series):
    """Shapes of a ``bar``, ``line``, ``pie`` or ``funnel`` chart of
    ``series`` (``[(name, [value per category])]``) in a WIDTH×HEIGHT box:
    the template only places them."""
    legend = _legend([name for name, _ in series] if kind in ("bar", "line") else categories)
    shape = {"pie": _pie, "funnel": _funnel}.get(kind, _axes)
    return {"kind": kind, "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": RIGHT,
            "middle": (LEFT + RIGHT) / 2, "legend": legend, **shape(kind, categories, series)}


def _legend(names):
    items, x, y = [], LEFT, 14
    for i, name in enumerate(names):
        width = 22 + 8 * len(name)
        if x + width > WIDTH and x > LEFT:
            x, y = LEFT, y + 18
        items.append({"x": x, "y": y, "fill": PALETTE[i % len(PALETTE)], "text": name})
        x += width + 12
    return items


def _number(value):
    return flask_babel.format_decimal(value, format="#,##0.##")


def _ticks(low, high, count=5):
    """Round tick values from below ``low`` to above ``high``."""
    raw = ((high - low) or 1.0) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first, last = math.floor(low / step) * step, math.ceil(high / step) * step
    if last == first:
        last = first + step * count
    return [first + i * step for i in range(round((last - first) / step) + 1)]


def _axes(kind, categories, series):
    values = [v for _, vals in series for v in vals]
    ticks = _ticks(min(values + [0.0]), max(values + [0.0]))
    low, high = ticks[0], ticks[-1]

    def y(v):
        return round(BOTTOM - (v - low) / (high - low) * (BOTTOM - TOP), 1)
    band = (RIGHT - LEFT) / max(len(categories), 1)
    chars = max(3, int(band / 8))
    xlabels = [{"x": round(LEFT + (i + .5) * band, 1), "y": BOTTOM + 18,
                "text": c if len(c) <= chars else c[:chars - 1] + "…", "title": c}
               for i, c in enumerate(categories)]
    bars, lines = [], []
    width = min(band * .8 / max(len(series), 1), 64)
    inset = (band - width * len(series)) / 2
    for s, (name, vals) in enumerate(series):
        fill = PALETTE[s % len(PALETTE)]
        points = []
        for i, v in enumerate(vals):
            if kind == "bar":
                x = LEFT + i * band + inset + s * width
                top, base = y(max(v, 0)), y(min(v, 0))
                bars.append({"x": round(x, 1), "y": top, "w": round(width, 1), "h": round(base - top, 1),
                             "fill": fill, "value": _number(v), "tx": round(x + width / 2, 1),
                             "ty": top - 4, "title": f"{categories[i]} · {name}: {_number(v)}"})
            else:
                points.append({"x": round(LEFT + (i + .5) * band, 1), "y": y(v), "value": _number(v),
                               "title": f"{categories[i]} · {name}: {_number(v)}"})
        if points:
            lines.append({"fill": fill, "points": " ".join(f"{p['x']},{p['y']}" for p in points),
                          "dots": points})
    return {"bars": bars, "lines": lines, "xlabels": xlabels, "axis_y": y(0) if low <= 0 <= high else BOTTOM,
            "yticks": [{"y": y(t), "text": _number(t)} for t in ticks]}


def _pie(kind, categories, series):
    values = [max(v, 0) for v in series[0][1]]
    total = sum(values)
    cx, cy, r = 200, 210, 140
    slices, angle = [], -math.pi / 2
    for i, v in enumerate(values):
        if not total or not v:
            continue
        sweep = 2 * math.pi * v / total
        end = angle + min(sweep, 2 * math.pi - 1e-4)
        x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
        x2, y2 = cx + r * math.cos(end), cy + r * math.sin(end)
        middle = angle + sweep / 2
        slices.append({"d": f"M{cx},{cy} L{x1:.1f},{y1:.1f} A{r},{r} 0 {int(sweep > math.pi)},1 "
                            f"{x2:.1f},{y2:.1f} Z", "fill": PALETTE[i % len(PALETTE)],
                       "tx": round(cx + r * .65 * math.cos(middle), 1),
                       "ty": round(cy + r * .65 * math.sin(middle), 1),
                       "percent": f"{100 * v / total:.0f}%" if v / total >= .05 else "",
                       "title": f"{categories[i]}: {_number(v)} ({100 * v / total:.1f}%)"})
        angle += sweep
    legend = [{"x": 380, "y": 80 + 22 * i, "fill": PALETTE[i % len(PALETTE)],
               "text": f"{c}: {_number(values[i])}"} for i, c in enumerate(categories)]
    return {"slices": slices, "legend": legend}


def _funnel(kind, categories, series):
    values = series[0][1]
    top = max(values + [0.0]) or 1.0
    step = (BOTTOM - TOP + 20) / max(len(values), 1)
    middle = (LEFT + RIGHT) / 2
    stages = []
    for i, v in enumerate(values):
        width = max((RIGHT - LEFT) * max(v, 0) / top, 2)
        stages.append({"x": round(middle - width / 2, 1), "y": round(TOP - 20 + i * step, 1),
                       "w": round(width, 1), "h": round(step * .8, 1), "fill": PALETTE[i % len(PALETTE)],
                       "tx": middle, "ty": round(TOP - 20 + i * step + step * .4 + 5, 1),
                       "text": f"{categories[i]}: {_number(v)}"})
    return {"stages": stages, "legend": []}
