"""Files attached to records: the one way to add, list, read and remove them.

A file belongs to a record (``res_model``, ``res_id``) and follows it: who
may read the record may list and download its files; who may write it may
attach and remove them. A record outside the caller's rules answers
``NotFound`` exactly as a missing one. ``core.attachment`` rows change only
here (the base addon refuses other writes); each step is also an entry of
the record's own history (``attach`` / ``detach``).

The content is stored on disk by its hash (:mod:`core.services.files`),
written before the row; the row keeps name, mimetype (from the content),
size and checksum. Rows of older databases whose ``data`` column still holds
the content are read from it.
"""
import unicodedata

from .errors import AccessDenied, NotFound, UserInputError
from .i18n import _
from .security import audit
from .services import files

MODEL = "core.attachment"
#: context key of the service's own writes (the base addon lets only these through)
SERVICE = "attachment_service"
#: the default size limit; the effective one is config ``max_upload_mb``
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


def max_size(config):
    """The size limit in bytes (config ``max_upload_mb``)."""
    mb = getattr(config, "max_upload_mb", None)
    return int(mb) * 1024 * 1024 if mb else MAX_SIZE


def add(env, model, rid, name, data, mimetype=None):
    """Attach ``data`` (bytes) named ``name`` to record ``rid``; its id.
    ``mimetype`` (what the browser claimed) is ignored: the stored type is
    the content's (:func:`core.services.files.sniff`)."""
    _record(env, model, rid, "write")
    if not isinstance(data, bytes):
        raise UserInputError("attachment: the content must be bytes")
    config = files.config_of(env)
    limit = max_size(config)
    shown = clean_name(name) if (name or "").strip() else name
    if len(data) > limit:
        raise UserInputError(_("{name} is larger than the limit of {limit} MB").format(
            name=shown, limit=limit // (1024 * 1024)), {"fields": ["file"], "file": shown})
    name = clean_name(name)
    if not data:
        raise UserInputError(_("{name} is empty").format(name=name), {"fields": ["file"], "file": name})
    kind = files.sniff(name, data)
    checksum = files.store(config, data)  # before the row: a committed row finds its file
    created = env.sudo().with_context(**{SERVICE: True})[MODEL].create({
        "res_model": model, "res_id": rid, "name": name, "mimetype": kind[:100],
        "size": len(data), "checksum": checksum})
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
    found = env.sudo()[MODEL].browse([aid]).read(["name", "mimetype", "size", "data", "checksum",
                                                  "res_model", "res_id"])[0]
    if not found["data"]:  # stored on disk (rows of older databases keep their content)
        found["data"] = files.read(files.config_of(env), found["checksum"])
        if found["data"] is None:
            raise NotFound(_("the file of attachment {id} is missing from the file store")
                           .format(id=aid), {"id": aid})
    return found


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
