"""Files attached to records: the one way to add, list, read and remove them.

A file belongs to a record (``res_model``, ``res_id``) and follows it: who
may read the record may list and download its files; who may write it may
attach and remove them. A record outside the caller's rules answers
``NotFound`` exactly as a missing one. ``core.attachment`` rows change only
here (the base addon refuses other writes); each step is also an entry of
the record's own history (``attach`` / ``detach``).
"""
import hashlib
import mimetypes
import unicodedata

from .errors import AccessDenied, NotFound, UserInputError
from .security import audit

MODEL = "core.attachment"
#: context key of the service's own writes (the base addon lets only these through)
SERVICE = "attachment_service"
MAX_SIZE = 25 * 1024 * 1024
MAX_NAME = 200
LISTED = ["name", "mimetype", "size", "created_at", "created_by_id"]


def _record(env, model, rid, op):
    """The record ``rid`` of ``model`` if the caller may ``op`` it."""
    if model not in env.registry.models or model == MODEL:
        raise NotFound(f"unknown model {model!r}")
    records = env[model].browse([rid])
    env.access.check(env.registry[model], op)
    found = set(records.exists().ids)
    if found and not env.access.unrestricted:
        found &= records._visible([rid], op)
    if rid not in found:
        raise NotFound(f"{model} {rid} not found", {"model": model, "id": rid})
    return records


def clean_name(name):
    """A file name safe to store and to send back: no directories, no
    control characters, at most :data:`MAX_NAME` characters (Chinese kept)."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    if not name:
        raise UserInputError("attachment: the file has no name", {"fields": ["name"]})
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) < 16 else name[:MAX_NAME]
    return name


def add(env, model, rid, name, data, mimetype=None):
    """Attach ``data`` (bytes) named ``name`` to record ``rid``; its id."""
    _record(env, model, rid, "write")
    if not isinstance(data, bytes):
        raise UserInputError("attachment: the content must be bytes")
    if len(data) > MAX_SIZE:
        raise UserInputError(f"attachment: {name!r} is larger than {MAX_SIZE // (1024 * 1024)} MB",
                             {"fields": ["data"]})
    name = clean_name(name)
    mimetype = mimetype or mimetypes.guess_type(name)[0] or "application/octet-stream"
    created = env.sudo().with_context(**{SERVICE: True})[MODEL].create({
        "res_model": model, "res_id": rid, "name": name, "mimetype": mimetype[:100],
        "size": len(data), "checksum": hashlib.sha256(data).hexdigest(), "data": data})
    audit.log(env, "attach", model, rid, {"attachment": created.id, "name": name, "size": len(data)})
    return created.id


def list_for(env, model, rid):
    """The files of record ``rid`` (newest first), without their content."""
    _record(env, model, rid, "read")
    return env.sudo()[MODEL].search_read([["res_model", "=", model], ["res_id", "=", rid]], LISTED)


def _own(env, aid):
    rows = env.sudo()[MODEL].search_read([["id", "=", aid]], ["res_model", "res_id"])
    if not rows:
        raise NotFound(f"attachment {aid} not found")
    return rows[0]


def get(env, aid):
    """``{"name", "mimetype", "size", "data", "res_model", "res_id"}`` of
    attachment ``aid`` if the caller may read its record."""
    row = _own(env, aid)
    try:
        _record(env, row["res_model"], row["res_id"], "read")
    except (NotFound, AccessDenied):
        raise NotFound(f"attachment {aid} not found") from None
    found = env.sudo()[MODEL].browse([aid]).read(["name", "mimetype", "size", "data",
                                                  "res_model", "res_id"])
    return found[0]


def remove(env, aid):
    """Delete attachment ``aid`` if the caller may write its record."""
    row = _own(env, aid)
    try:
        _record(env, row["res_model"], row["res_id"], "read")
    except (NotFound, AccessDenied):
        raise NotFound(f"attachment {aid} not found") from None
    _record(env, row["res_model"], row["res_id"], "write")
    found = env.sudo().with_context(**{SERVICE: True})[MODEL].browse([aid])
    name = found.read(["name"])[0]["name"]
    found.unlink()
    audit.log(env, "detach", row["res_model"], row["res_id"], {"attachment": aid, "name": name})
