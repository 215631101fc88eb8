"""Sharing a record with a user or a department (read or edit).

Whoever may change a record may share it; the share itself is written in
the system context, since ``core.share`` is not open to ordinary users.
"""
from ..errors import UserInputError


def share(records, user_id=None, department_id=None, mode="read"):
    """Share ``records`` (a recordset the caller may change) with a user or
    a department; returns the ``core.share`` records."""
    if (user_id is None) == (department_id is None):
        raise UserInputError("share with one user or one department")
    if mode not in ("read", "edit"):
        raise UserInputError(f"share mode {mode!r} is not read or edit")
    records._check_visible("write")
    shares = records.env.sudo()["core.share"]
    made = []
    for rid in records.ids:
        key = [["model", "=", records._name], ["record_id", "=", rid],
               ["user_id", "=", user_id], ["department_id", "=", department_id]]
        existing = shares.search(key)
        if existing:
            existing.write({"mode": mode})
            made.extend(existing.ids)
        else:
            made.extend(shares.create({"model": records._name, "record_id": rid, "user_id": user_id,
                                       "department_id": department_id, "mode": mode}).ids)
    return shares.browse(made)


def unshare(records, user_id=None, department_id=None):
    records._check_visible("write")
    shares = records.env.sudo()["core.share"]
    shares.search([["model", "=", records._name], ["record_id", "in", list(records.ids)],
                   ["user_id", "=", user_id], ["department_id", "=", department_id]]).unlink()
