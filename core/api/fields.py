"""User-defined fields over the API (CONTRACT.md §3), through
:mod:`core.custom_fields` — the same service and rules as ``keel field``:

* ``POST /meta/models/MODEL/fields`` with ``{"name", "type", "label"?,
  "selection"?, "relation"?, "required"?, "index"?, "default"?}`` → 201, the
  field as ``/meta/models`` describes it;
* ``DELETE /meta/models/MODEL/fields/NAME?confirm=true`` → 204 (its values
  are archived in ``core.field_archive`` first).

Only administrators: 403 ``forbidden`` for anyone else. An unknown model or
field is 404; a malformed body or a refused name, type, option or default
is 400 ``bad_request``; a field the database's state refuses (the name is
taken, ``required`` on a table with records and no default, the column
limit) is 422 ``validation_error``. Each call is one transaction.
"""
from flask import current_app, g, request

from .. import custom_fields
from ..errors import UserInputError
from . import bp, http
from .routes import describe_field

#: body keys of a new field and the JSON types each accepts
_KEYS = {"name": (str,), "type": (str,), "label": (str, type(None)), "selection": (list, type(None)),
         "relation": (str, type(None)), "required": (bool,), "index": (bool,),
         "default": (str, int, float, bool, type(None))}
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


@bp.post("/meta/models/<model>/fields")
@http.unit_of_work
def field_add(env, model):
    body = http.body_object()
    unknown = sorted(set(body) - set(_KEYS))
    if unknown:
        raise UserInputError(f"body: unknown key{'s' if len(unknown) > 1 else ''} "
                             f"{', '.join(unknown)}; expected {', '.join(_KEYS)}",
                             {"parameter": "body", "keys": unknown})
    for key in ("name", "type"):
        if key not in body:
            raise UserInputError(f"body: {key} is required", {"parameter": key})
    for key, value in body.items():
        if not isinstance(value, _KEYS[key]) or isinstance(value, bool) and bool not in _KEYS[key]:
            raise UserInputError(f"{key}: unexpected {type(value).__name__} {value!r}"[:160],
                                 {"parameter": key})
    options = {k: body[k] for k in ("label", "selection", "relation", "default") if k in body}
    field = custom_fields.add_field(env.db, env.conn, model, body["name"], body["type"],
                                    required=body.get("required", False),
                                    index=body.get("index", False), user=env.uid, source="api",
                                    **options)
    described = describe_field(field.describe(), http.language(env), False)
    return described, 201, {"Location": f"{bp.url_prefix}/meta/models/{model}"}


@bp.delete("/meta/models/<model>/fields/<name>")
def field_remove(model, name):
    # its own transaction, not the request's unit of work: on SQLite a
    # column that only a table rebuild can drop needs foreign key
    # enforcement off from the transaction's start (custom_fields.remove)
    text = request.args.get("confirm", "").strip().lower()
    if text not in _TRUE + _FALSE:
        raise UserInputError(f"confirm: expected true or false, got {text[:20]!r}",
                             {"parameter": "confirm"})
    custom_fields.remove(http.database(), model, name, confirm=text in _TRUE, user=g.keel_api_uid,
                         source="api", confirm_hint="repeat with ?confirm=true")
    return current_app.response_class(status=204)
