"""The kanban view: one column per value of the view's ``group_by`` field
(states in workflow order, options as declared, else the groups found), with
a count and a sum per column from ``read_group`` and the first
``CARDS_PER_COLUMN`` cards of each.

Dropping a kanban card posts to ``/web/MODEL/ID/move`` (:func:`move`): on a
workflow state field that runs the transition from the record's state to
the target (roles, conditions, required fields and approval policies all
apply); on any other field it writes the field through the model API. Cards
carry their move targets too, so that a board works without JavaScript.
"""
import dataclasses
from urllib.parse import urlencode

from flask import flash, get_flashed_messages, jsonify, redirect, request

from ... import workflow
from ...errors import AccessDenied, Conflict, KeelError, NotFound, UserInputError, ValidationError
from ...i18n import translate
from ...viewdefs import resolve
from .. import boards, bp
from ..context import unit_of_work
from ..i18n import best_language, gettext
from ..views import safe_next


@dataclasses.dataclass
class Column:
    value: object          # the group key as stored (a many2one: its id)
    label: str
    term: list             # the domain term of the column's records
    count: int = 0
    total: object = None
    total_text: str = ""
    more: str = ""         # the list of the column's records
    folded: bool = False
    cards: list = dataclasses.field(default_factory=list)

    @property
    def key(self):
        """``data-value`` and the ``to`` of a move: the value as text."""
        return "" if self.value is None else str(self.value)


def kanban(board):
    arch = resolve(board.env, board.model, "kanban")
    fname = arch.get("group_by")
    if fname not in board.meta.fields:
        raise UserInputError(gettext("This model has no kanban view."))
    field = board.meta.fields[fname]
    names = [n for n in arch.get("fields") or () if n in board.meta.fields] or [board.meta.rec_name]
    measure = next((n for n in names if board.meta.fields[n].type in ("decimal", "float")), None)
    aggregates = ["id:count"] + ([f"{measure}:sum"] if measure else [])
    groups = board.records.read_group(board.domain, [fname], aggregates)
    columns = _columns(board, field, groups, measure)
    list_url = board.url("list")
    found = {id(c): board.records.search([*board.domain, c.term], limit=boards.CARDS_PER_COLUMN).ids
             for c in columns}
    # one read of every card (and one name query per many2one), whatever the columns
    rows = {r["id"]: r for r in board.records.browse([i for ids in found.values() for i in ids]).read(names)}
    for column in columns:
        column.cards = [rows[i] for i in found[id(column)] if i in rows]
        row = [("qf", fname), ("qo", "unset" if column.value is None else "eq"), ("qv", column.key)]
        column.more = list_url + ("&" if "?" in list_url else "?") + urlencode(row)
    targets = _targets(board, field, columns)
    title = names[0]
    cards = {c["id"]: {"title": board.value_label(board.meta.fields[title], c.get(title)),
                       "lines": [(board.field_label(n), board.value_label(board.meta.fields[n], c.get(n)))
                                 for n in names[1:] if n in c],
                       "measure": c.get(measure) if measure else None,
                       "targets": targets.get(c["id"], ())}
             for column in columns for c in column.cards}
    flashed = get_flashed_messages(with_categories=True)  # the answer of a move without JavaScript
    return board.page("web/kanban.html", "kanban", columns=columns, cards=cards, field=field,
                      measure=measure and board.field_label(measure),
                      messages=[m for _, m in flashed], refused=any(c == "error" for c, _ in flashed),
                      back=request.full_path.rstrip("?"))


def _columns(board, field, groups, measure):
    """One column per state (in order), option or group found; records with
    no state are in the initial state."""
    found = {(g[field.name]["id"] if isinstance(g[field.name], dict) else g[field.name]): g for g in groups}
    total = f"{measure}:sum"
    if board.is_state(field):
        m = board.matrix
        columns = [Column(s.code, board.label(s.label), [field.name, "=", s.code], folded=s.folded)
                   for s in m.states]
        columns[0].term = [field.name, "in", [m.initial, None]]
    elif field.type == "selection":
        columns = [Column(v, board.label(lbl), [field.name, "=", v]) for v, lbl in field.options]
        if None in found:
            columns.append(Column(None, gettext("Not set"), [field.name, "=", None]))
    else:
        keys = sorted((g[field.name] for g in groups), key=board.sort_key(field))
        columns = [Column(k["id"] if isinstance(k, dict) else k, board.value_label(field, k),
                          [field.name, "=", k["id"] if isinstance(k, dict) else k]) for k in keys]
    for column in columns:
        values = [found[v] for v in (column.term[2] if column.term[1] == "in" else [column.value])
                  if v in found]
        column.count = sum(g["id:count"] for g in values)
        if measure:
            sums = [g[total] for g in values if g[total] is not None]
            column.total = sum(sums) if sums else 0
            column.total_text = board.value_label(board.meta.fields[measure], column.total)
    return columns


def _targets(board, field, columns):
    """``{id: [(value, label)]}``: where each card may be moved without
    JavaScript — the targets of the actions the caller may run now (for a
    state field), else every other column."""
    ids = [c["id"] for column in columns for c in column.cards]
    if not board.is_state(field):
        return {c["id"]: [(o.key, o.label) for o in columns if o is not column]
                for column in columns for c in column.cards}
    labels = {c.key: c.label for c in columns}
    transitions = board.matrix.transitions
    allowed = board.records.browse(ids).allowed_actions() if ids else {}
    return {rid: list(dict.fromkeys((transitions[a].to_state, labels[transitions[a].to_state])
                                    for a in actions))
            for rid, actions in allowed.items()}


# -- moving a card ----------------------------------------------------------------------
class Refused(Exception):
    """A move refused, with the message for the user (raised inside the unit
    of work so that it rolls back)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


@bp.post("/web/<model>/<int:rid>/move")
def move(model, rid):
    """Move record ``rid`` to the kanban column ``to``: JSON ``{ok, message}``
    for the board's script (200, 202 held for approval, 403/404/409/422
    refused), else back to the board with the message."""
    to = request.form.get("to", "")
    try:
        with unit_of_work() as env:
            try:
                status, message = _move(env, model, rid, to)
            except KeelError as exc:
                raise Refused(exc.http_status, _refusal(env, model, exc, to)) from exc
            targets = _next_targets(env, model, rid) if status == 200 and _on_state(env, model) else None
    except Refused as exc:
        status, message, targets = exc.status, exc.message, None
    if request.accept_mimetypes.best == "application/json":
        answer = {"ok": status < 300, "status": status, "message": message}
        if targets is not None:
            answer["targets"] = targets
        return jsonify(answer), status
    flash(message, "info" if status < 300 else "error")
    return redirect(safe_next(request.form.get("next")) or f"/web/{model}?view=kanban", 303)


def _on_state(env, model):
    """Does the kanban of ``model`` group by its workflow's state field?"""
    m = workflow.matrix(env, model)
    return m is not None and m.field == resolve(env, model, "kanban").get("group_by")


def _move(env, model, rid, to):
    board_field = resolve(env, model, "kanban").get("group_by")
    records = env[model]
    meta = records._meta
    if board_field not in meta.fields:
        raise UserInputError(gettext("This model has no kanban view."))
    record = records.browse(rid)
    current = record.read([board_field])[0][board_field]  # NotFound outside the caller's rules
    m = workflow.matrix(env, model)
    if m is None or m.field != board_field:
        record.write({board_field: to or None})
        return 200, gettext("Saved.")
    current = current or m.initial
    target = m.state(to)
    if target is None:
        raise UserInputError(f"{meta.name}.{board_field}: {to!r} is not a state")
    if to == current:
        return 200, gettext("Saved.")
    candidates = [t for t in m.transitions.values() if current in t.from_states and t.to_state == to]
    if not candidates:
        lang = best_language()
        raise Conflict(gettext("This %(model)s cannot move from %(from)s to %(to)s.",
                               model=translate(meta.label, lang).lower(),
                               **{"from": translate(m.state(current).label, lang),
                                  "to": translate(target.label, lang)}))
    transition = next((t for t in candidates if workflow.may_run(env, meta, t)), candidates[0])
    outcome = record.action(transition.action)[0]
    if outcome.ran:
        return 200, gettext("Moved to %(state)s.", state=translate(target.label, best_language()))
    return 202, gettext("Sent for approval.")


def _next_targets(env, model, rid):
    """``[[state, label]]`` where the record may go from where it is now (the
    board's script refreshes the card's move form with them)."""
    m = workflow.matrix(env, model)
    lang = best_language()
    actions = env[model].browse(rid).allowed_actions()[rid]
    states = dict.fromkeys(m.transitions[a].to_state for a in actions)
    return [[code, translate(m.state(code).label, lang)] for code in states]


def _refusal(env, model, exc, to):
    """The refusal ``exc`` of a move, in the user's words and language
    (no query: the transaction may be aborted)."""
    lang = best_language()
    meta = env.registry[model]
    m = workflow.matrix(env, model)
    state = m.state(to) if m else None
    target = translate(state.label, lang) if state else to
    what = translate(meta.label, lang).lower()
    if isinstance(exc, NotFound):
        return gettext("This record no longer exists or is not yours.")
    if isinstance(exc, AccessDenied):
        return gettext("You may not move this %(model)s to %(state)s.", model=what, state=target)
    if isinstance(exc, ValidationError) and exc.details.get("fields"):
        names = [translate(meta.fields[f].label or f, lang) if f in meta.fields else f
                 for f in exc.details["fields"]]
        return gettext("Fill in: %(fields)s", fields=", ".join(names))
    if isinstance(exc, Conflict) and exc.details.get("condition"):
        return gettext("This %(model)s does not meet the condition to move to %(state)s.",
                       model=what, state=target)
    return str(exc)
