"""A user's own in-app notifications: the bell of the header, the page
``/web/notifications`` and ``/api/v1/notifications``.

The inbox is personal: every signed-in user reads and marks their own
notifications, whatever their roles (administrators too see only theirs
here), so it reads in the system context restricted to ``owner_id`` = the
caller — a notification of someone else answers ``NotFound`` exactly as a
missing one. (The model API on ``core.notification`` itself follows roles:
the CRM roles read their own, administrators all of them.)
"""
from ..errors import NotFound, UserInputError

MODEL = "core.notification"
FIELDS = ["message", "body", "kind", "model", "record_id", "author_id", "is_read", "read_at",
          "created_at"]


def _own(env, extra=()):
    return [["owner_id", "=", env.uid], *extra]


def unread_count(env):
    """One COUNT query (the header's badge)."""
    return env.sudo()[MODEL].search_count(_own(env, [["is_read", "=", False]]))


def url_of(model, record_id):
    """The page of the record a notification is about, if any."""
    return f"/web/{model}/{record_id}" if model and record_id else None


def listing(env, unread=False, limit=80, offset=0):
    """``{"items", "total", "unread"}``: the caller's notifications, newest first."""
    notes = env.sudo()[MODEL]
    domain = _own(env, [["is_read", "=", False]] if unread else [])
    rows = notes.search_read(domain, FIELDS, order="id desc", limit=limit, offset=offset)
    total = notes.search_count(domain)
    unread_total = total if unread else unread_count(env)
    items = [{"id": r["id"], "message": r["message"], "body": r["body"], "kind": r["kind"],
              "model": r["model"], "record_id": r["record_id"],
              "url": url_of(r["model"], r["record_id"]),
              "author": (r["author_id"] or {}).get("name"), "is_read": r["is_read"],
              "read_at": r["read_at"], "created_at": r["created_at"]} for r in rows]
    return {"items": items, "total": total, "unread": unread_total}


def mark_read(env, ids, read=True):
    """Mark the caller's notifications ``ids`` read (or unread again); an id
    that is not theirs is ``NotFound``. Returns how many changed."""
    try:
        ids = sorted({int(i) for i in ids})
    except (TypeError, ValueError):
        raise UserInputError("ids: expected notification ids", {"field": "ids"}) from None
    notes = env.sudo()[MODEL]
    found = notes.search(_own(env, [["id", "in", ids]]))
    missing = sorted(set(ids) - set(found.ids))
    if missing:
        raise NotFound(f"notification {missing[0]} does not exist", {"id": missing[0]})
    changing = notes.search(_own(env, [["id", "in", ids], ["is_read", "=", not read]]))
    if changing:
        changing.write({"is_read": read, "read_at": env.now if read else None})
    return len(changing)


def mark_all_read(env):
    """Mark every unread notification of the caller read; how many."""
    unread = env.sudo()[MODEL].search(_own(env, [["is_read", "=", False]]))
    if unread:
        unread.write({"is_read": True, "read_at": env.now})
    return len(unread)


def get(env, note_id):
    """One of the caller's notifications (``NotFound`` otherwise)."""
    rows = env.sudo()[MODEL].search_read(_own(env, [["id", "=", note_id]]), FIELDS, limit=1)
    if not rows:
        raise NotFound(f"notification {note_id} does not exist", {"id": note_id})
    return rows[0]
