"""The graph view: a bar, line, pie or funnel chart of a pivot (the graph
view's own definition where the model declares one, else the pivot view's),
drawn by ``web/graph.html`` from the shapes of :func:`.chart.svg_chart`, with
the numbers as a table beside it.
"""
import itertools

from flask import request

from ... import viewdefs
from ...errors import UserInputError
from ...viewdefs import resolve
from ..i18n import gettext
from . import CHART_LABELS, CHARTS
from .chart import _number, svg_chart
from .pivot import _choices, _field, _measure_label, build_pivot, pivot_args


def graph(board):
    """A chart of the pivot: of the graph view where one is declared, else of
    the pivot view."""
    declared = "graph" in viewdefs.declared_types(board.env, board.model)
    arch = resolve(board.env, board.model, "graph" if declared else "pivot")
    rows, cols, measures = pivot_args(board, arch)
    if not rows:
        raise UserInputError(gettext("Choose what to group by."))
    kind = request.args.get("chart") or arch.get("chart") or "bar"
    first = _field(board, rows[0])
    kinds = [k for k in CHARTS if k != "funnel" or board.is_state(first)]
    if kind not in kinds:
        raise UserInputError(gettext("%(what)s: %(spec)s cannot be used here.", what=gettext("Chart"),
                                     spec=kind[:20]))
    measure, label = measures[0], _measure_label(board, measures[0])
    p = build_pivot(board, rows[:1], cols[:1] if kind in ("bar", "line") else [], [measure])
    if kind == "funnel":
        # the pipeline's stages in order, folded ones (lost) off it: what reached
        # each stage, i.e. is in it or beyond
        states = [s for s in board.matrix.states if not s.folded]
        categories = [board.label(s.label) for s in states]
        values = [float(p.row_totals.get((s.code,), {}).get(measure) or 0) for s in states]
        series = [(label, list(itertools.accumulate(values[::-1]))[::-1])]
    else:
        categories = [" / ".join(p.labels[r]) for r in p.row_keys]
        series = [(" / ".join(p.labels[c]) if c else label,
                   [float(p.cells[(r, c)].get(measure) or 0) for r in p.row_keys]) for c in p.col_keys]
    dims, choices = _choices(board)
    return board.page("web/graph.html", "graph", chart=svg_chart(kind, categories, series), kind=kind,
                      kinds=[(k, gettext(CHART_LABELS[k])) for k in kinds], measure=measure, rows=rows,
                      cols=cols, dims=dims, choices=choices, measure_label=label, truncated=p.truncated,
                      series=[name for name, _ in series],
                      data=[(c, [_number(values[i]) for _, values in series])
                            for i, c in enumerate(categories)])
