"""Duplicate keys of an import: which existing record, or which earlier row
of the file, a row names again.

A model declares its keys as ``import_keys=[(field, normaliser)]`` (see
``core.models.Model``; crm.customer: code as it is, then the 客户查重 keys —
normalised company name, phone, mobile and email, :mod:`core.services.normalize`).
The first ``exact`` key is the business key. Lookups in the database are
made in the system context, because a duplicate must be found even where
the importing user cannot see it (the report then says only that it
exists): an ``exact`` key with one ``IN`` query per batch, a normalised key
with one query over the non-empty values of its column per import (a
normalised value cannot be looked up by an index of raw values), kept for
the next batches.
"""
import sqlalchemy as sa

from ..normalize import NORMALISERS


def keys_of(meta):
    """``[(field name, normalise function, normaliser name)]`` of ``meta``."""
    declared = meta.import_keys
    return [(name, NORMALISERS[kind], kind) for name, kind in declared
            if name in meta.fields and kind in NORMALISERS]


class Index:
    """Finds existing records and earlier rows by key."""

    def __init__(self, env, meta, keys):
        self.env, self.meta, self.keys = env, meta, keys
        self.table = meta.table
        self.loaded = {}       # key -> {normalised: {ids}} of normalised keys
        self.in_file = {name: {} for name, _f, _k in keys}  # key -> {normalised: line}

    def _load_all(self, name, normalise):
        column = self.table.c[name]
        found = {}
        stmt = sa.select(self.table.c.id, column).where(column.is_not(None))
        for rid, value in self.env.conn.execute(stmt):
            norm = normalise(value)
            if norm is not None:
                found.setdefault(norm, set()).add(rid)
        self.loaded[name] = found
        return found

    def norms(self, values):
        """``{key: normalised value}`` of a row's ``values`` (empty left out)."""
        out = {}
        for name, normalise, _kind in self.keys:
            value = values.get(name)
            if value is not None:
                norm = normalise(value)
                if norm is not None:
                    out[name] = norm
        return out

    def existing(self, rows):
        """``[{id: key}]``: the existing records each of ``rows`` (dicts of
        normalised keys, :meth:`norms`) names, with the first key naming
        each (one query per key for the batch)."""
        out = [{} for _ in rows]
        for name, normalise, kind in self.keys:
            norms = [r.get(name) for r in rows]
            if not any(n is not None for n in norms):
                continue
            if kind == "exact":
                column = self.table.c[name]
                wanted = sorted({n for n in norms if n is not None})
                found = {}
                for start in range(0, len(wanted), 900):
                    chunk = wanted[start:start + 900]
                    for rid, value in self.env.conn.execute(
                            sa.select(self.table.c.id, column).where(column.in_(chunk))):
                        found.setdefault(normalise(value), set()).add(rid)
            else:
                found = self.loaded.get(name)
                if found is None:
                    found = self._load_all(name, normalise)
            for i, norm in enumerate(norms):
                if norm is not None and norm in found:
                    for rid in found[norm]:
                        out[i].setdefault(rid, name)
        return out

    def earlier(self, line, norms):
        """``(line, field)`` of an earlier row of the file with one of the
        keys ``norms`` (:meth:`norms`), else ``None``; remembers this row's
        keys."""
        in_file = self.in_file
        for name, norm in norms.items():
            seen = in_file[name].get(norm)
            if seen is not None:
                return seen, name
        for name, norm in norms.items():
            in_file[name][norm] = line
        return None
