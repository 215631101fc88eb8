"""The import itself: file → checked rows → records, all or nothing.

:func:`run` reads the file (:mod:`.source`), maps its header
(:mod:`.columns`), converts every cell (:mod:`.convert`) and finds
duplicates (:mod:`.duplicates`) a batch at a time, collecting every problem
of every row. Only when no row has a problem does it write, through the
model API (``create`` with a list of :data:`BATCH` rows → one executemany;
``write`` for ``on_duplicate="update"``), so access rights, record scopes,
field rules, required fields, sequences, hooks and the audit log apply as
for any create. Should the model API still refuse a batch (a hook, a
record rule), the batch is rolled back to its savepoint and retried row by
row to name the rows at fault, and the import fails: the caller's unit of
work is rolled back, nothing is written.

A column of the model's workflow state is accepted only with the initial
state (or empty): no import sets a state or skips an approval.
"""
from dataclasses import dataclass
from dataclasses import field as dc_field

from ...errors import KeelError, UserInputError, ValidationError
from ...i18n import _
from ...security import audit
from ...workflow.matrix import matrix
from . import columns as cols
from . import convert as conv
from .duplicates import Index, keys_of
from .report import Problem, Reason, shown
from .source import read

#: rows checked and written per batch
BATCH = 1000
ON_DUPLICATE = ("error", "skip", "update")
#: rows of the file shown by the web preview
PREVIEW = 10


class ImportFailed(ValidationError):
    """Bad rows: nothing was written. ``details["errors"]`` lists them;
    ``result`` is the :class:`Result` with the problems. ``lang``: the
    language of the message and of the reasons in ``details``."""

    def __init__(self, result, lang=None):
        problems = result.problems
        first = problems[0].text(lang) if problems else ""
        message = Reason(_("%(n)s problem(s) in the file, nothing imported; first: %(first)s"),
                         {"n": len(problems), "first": first})
        super().__init__(shown(message, lang), {"errors": [p.as_dict(lang) for p in problems]})
        self.result = result


@dataclass
class Result:
    model: str
    table: object = None
    columns: list = dc_field(default_factory=list)
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    problems: list = dc_field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self):
        return not self.problems

    @property
    def bad_lines(self):
        return sorted({p.line for p in self.problems})

    def summary(self, lang=None):
        verb = Reason(_("would import") if self.dry_run else _("imported"))
        return shown(Reason(_("%(verb)s %(n)s %(model)s records (created %(c)s, updated %(u)s, "
                              "skipped %(s)s)"),
                            {"verb": verb, "n": self.created + self.updated, "model": self.model,
                             "c": self.created, "u": self.updated, "s": self.skipped}), lang)

    def as_dict(self, lang=None):
        return {"created": self.created, "updated": self.updated, "skipped": self.skipped,
                "errors": [p.as_dict(lang) for p in self.problems]}


def run(env, model, data, filename=None, *, dry_run=False, on_duplicate="error", mapping=None,
        ignore_unknown=False, progress=None, batch=BATCH, lang=None):
    """Import the file ``data`` (bytes) into ``model`` as ``env``'s user.

    Returns the :class:`Result`; with problems, a dry run returns them and
    a real import raises :class:`ImportFailed` (nothing written), worded in
    ``lang`` (the problems themselves keep their :class:`Reason`).

    ``progress(phase, done, total)`` is called as the import goes:
    ``"check"`` after each batch of rows is checked (``total``: the rows of
    the file), then — a real import without problems — ``"write"`` after
    each batch is written (``total``: the rows to create and update). Each
    phase starts with ``done=0`` and ends with ``done == total``."""
    if on_duplicate not in ON_DUPLICATE:
        raise UserInputError(Reason(_("on_duplicate must be one of %(values)s"),
                                    {"values": ", ".join(ON_DUPLICATE)}), {"parameter": "on_duplicate"})
    records = env[model]
    meta = records._meta
    env.access.check(meta, "create")
    table = read(data, filename)
    result = Result(model, table, rows=len(table.rows), dry_run=dry_run)
    columns, problems = cols.map_columns(env, meta, table.header, mapping, ignore_unknown)
    result.columns = columns
    if problems:
        result.problems = problems
        return _finish(env, result, dry_run, lang)
    plan = _Checker(env, meta, [c for c in columns if c.field is not None], on_duplicate)
    plan.width = len(table.header)
    total = len(table.rows)
    report = progress or (lambda phase, done, total: None)
    report("check", 0, total)
    for start in range(0, total, batch):
        plan.check(table.rows[start:start + batch], result)
        report("check", min(start + batch, total), total)
    if result.problems or dry_run:
        result.problems.sort(key=lambda p: p.line)
        return _finish(env, result, dry_run, lang)
    _write(env, records, plan, result, batch, report)
    return _finish(env, result, dry_run, lang)


def _finish(env, result, dry_run, lang=None):
    if result.problems and not dry_run:
        raise ImportFailed(result, lang)
    if not dry_run:
        audit.log(env, "import", result.model, None,
                  {"created": result.created, "updated": result.updated, "skipped": result.skipped,
                   "rows": result.rows})
    return result


class _Checker:
    """Converts and checks rows; collects what to create and update."""

    def __init__(self, env, meta, columns, on_duplicate):
        self.env, self.meta, self.columns, self.on_duplicate = env, meta, columns, on_duplicate
        keys = keys_of(meta)
        kinds = {name: kind for name, _f, kind in keys}
        self.converters = [conv.converter(c.field, kinds.get(c.field.name)) for c in columns]
        self.relations = {c.index: conv.Relations(env, c.field) for c in columns
                          if c.field.type == "many2one"}
        self.index = Index(env, meta, keys)
        m = matrix(env, meta.name)
        self.state = (m.field, m.initial) if m is not None else None
        given = {c.field.name for c in columns}
        automatic = set(meta.defaults) | {f.name for f in meta.sequenced} | {f.name for f in meta.computed}
        automatic |= {"owner_id", "department_id"}
        self.required = [f for f in meta.required if f not in automatic]
        self.missing_required = [f for f in self.required if f not in given]
        self.width = 0
        self.creates, self.updates = [], []   # [(line, values)], [(line, id, values)]

    def _convert(self, line, cells, problems):
        values = {}
        if len(cells) > self.width and any(not conv.empty(c) for c in cells[self.width:]):
            # a comma in an unquoted address shifts every later cell
            problems.append(Problem(line, None, None, Reason(_(
                "has %(n)s cells but the header has %(m)s columns (a delimiter inside an unquoted "
                "value?)"), {"n": len(cells), "m": self.width})))
            return values
        for column, convert in zip(self.columns, self.converters):
            cell = cells[column.index] if column.index < len(cells) else None
            if cell.__class__ is str:
                cell = cell.strip()
                if not cell:
                    continue
            elif cell is None:
                continue
            try:
                value = convert(cell)
                if column.index in self.relations:
                    value = self.relations[column.index].resolve(value)
            except ValueError as exc:
                reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)
                problems.append(Problem(line, column.shown, cell, reason))
                continue
            values[column.field.name] = value
        if self.state is not None:
            fname, initial = self.state
            value = values.get(fname)
            if value not in (None, initial):
                column = next(c for c in self.columns if c.field.name == fname)
                problems.append(Problem(line, column.shown, value, Reason(_(
                    "cannot be imported: records start in %(initial)s and change state only through "
                    "their actions (and approvals)"), {"initial": initial})))
        return values

    def check(self, rows, result):
        for index, relations in self.relations.items():
            relations.load({conv._text(cells[index]) for _line, cells in rows
                            if index < len(cells) and not conv.empty(cells[index])})
        good = []
        for line, cells in rows:
            problems = []
            values = self._convert(line, cells, problems)
            if problems:
                result.problems.extend(problems)
            else:
                good.append((line, values))
        norms = [self.index.norms(v) for _l, v in good]
        found = self.index.existing(norms)
        visible = set()
        wanted = {rid for hits in found for rid in hits}
        if wanted:
            visible = set(self.env[self.meta.name].search([["id", "in", sorted(wanted)]]).ids)
        for (line, values), keys, hits in zip(good, norms, found):
            self._decide(line, values, keys, hits, visible, result)

    def _decide(self, line, values, keys, hits, visible, result):
        earlier = self.index.earlier(line, keys)
        if earlier is not None:
            if self.on_duplicate == "skip":
                result.skipped += 1
                return
            other, key = earlier
            result.problems.append(Problem(line, self._column_of(key), values.get(key), Reason(_(
                "repeats line %(other)s (same %(key)s)"), {"other": other, "key": key})))
            return
        if hits:
            if self.on_duplicate == "skip":
                result.skipped += 1
                return
            key = next(iter(hits.values()))
            if len(hits) > 1:
                result.problems.append(Problem(line, self._column_of(key), values.get(key), Reason(_(
                    "matches %(n)s existing records (by %(keys)s): import cannot tell which one"),
                    {"n": len(hits), "keys": ", ".join(sorted(set(hits.values())))})))
                return
            rid = next(iter(hits))
            if rid not in visible:
                result.problems.append(Problem(line, self._column_of(key), values.get(key), Reason(_(
                    "a record with the same %(key)s already exists (outside what you may see: "
                    "ask its owner or a manager)"), {"key": key})))
            elif self.on_duplicate == "error":
                result.problems.append(Problem(line, self._column_of(key), values.get(key), Reason(_(
                    "a record with the same %(key)s already exists (id %(id)s): use "
                    "--on-duplicate skip or update"), {"key": key, "id": rid})))
            else:
                if self.state is not None:
                    values.pop(self.state[0], None)
                self.updates.append((line, rid, values))
                result.updated += 1
            return
        empty = [f for f in self.required if values.get(f) in (None, "")]
        if empty:
            for fname in empty:
                result.problems.append(Problem(line, self._column_of(fname), None,
                                               Reason(_("%(field)s is required"), {"field": fname})))
            return
        self.creates.append((line, values))
        result.created += 1

    def _column_of(self, fname):
        for column in self.columns:
            if column.field.name == fname:
                return column.shown
        return fname


def _write(env, records, plan, result, batch, report):
    creates, updates = plan.creates, plan.updates
    total, done = len(creates) + len(updates), 0
    report("write", 0, total)
    if any(c.field.name in cols.KEPT_AUDIT for c in plan.columns):
        # an administrator keeps the original creator and dates: the model
        # API lets the system context with keep_audit give them
        records = env.sudo().with_context(keep_audit=True)[records._name]
    for start in range(0, len(creates), batch):
        chunk = creates[start:start + batch]
        _guarded(env, chunk, lambda rows: records.create([v for _l, v in rows]), plan, result)
        done += len(chunk)
        report("write", done, total)
    for start in range(0, len(updates), batch):
        chunk = updates[start:start + batch]

        def write(rows):
            for _line, rid, values in rows:
                if values:
                    records.browse(rid).write(values)
        _guarded(env, chunk, write, plan, result)
        done += len(chunk)
        report("write", done, total)
    if result.problems:
        result.problems.sort(key=lambda p: p.line)


def _guarded(env, rows, do, plan, result):
    """``do(rows)`` in a savepoint; when the model API refuses, each row
    again on its own to report the rows at fault."""
    try:
        with env.conn.begin_nested():
            do(rows)
        return
    except KeelError:
        env.cache.clear()
    for row in rows:
        try:
            with env.conn.begin_nested():
                do([row])
        except KeelError as exc:
            env.cache.clear()
            fname = exc.details.get("field") if isinstance(exc.details, dict) else None
            values = row[-1]
            result.problems.append(Problem(row[0], plan._column_of(fname) if fname else None,
                                           values.get(fname) if fname else None, exc.message))
