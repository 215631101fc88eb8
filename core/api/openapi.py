"""``GET /api/v1/openapi.json``: the OpenAPI 3 description of the API,
generated with apispec from the marshmallow schemas of :mod:`core.api.schemas`.

Public (CONTRACT.md §3): without a token it describes the generic calls
(``/data/{model}`` …); with a valid token it adds, for every model the
caller may read, its own paths and its record schema as that caller sees
it — user-defined fields included, hidden fields absent, field names and
workflow actions listed — so that a client generator (or schemathesis)
knows each model. A token that is unknown or expired is 401, as anywhere.

A description depends only on the registry, the language and the caller's
view of each model, so it is built once per such combination and kept.
"""
import json
import threading
import weakref

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, request

from .. import workflow
from ..i18n import translate
from . import bp, http
from .openapi_paths import common_components, generic_paths, model_paths
from .schemas import create_required, record_schema, view

TITLE = "Keel REST API"
VERSION = "1"
_kept = weakref.WeakKeyDictionary()   # registry -> {key: description}
_anonymous = {}                        # language -> description
_lock = threading.Lock()
#: descriptions kept per registry (callers with distinct views)
MAX_KEPT = 64


@bp.get("/openapi.json")
def openapi():
    if http.bearer_token() is None:
        lang = _accept_language()
        with _lock:
            found = _anonymous.get(lang)
        if found is None:
            found = _Described(_build(None, lang))
            with _lock:
                _anonymous[lang] = found
        return found.response()
    http.authenticate_request()
    return _for_caller()


@http.unit_of_work
def _for_caller(env):
    return _described(env, http.language(env)).response()


def _accept_language():
    match = request.accept_languages.best_match(["en", "zh-CN"])
    return {"zh-CN": "zh_CN"}.get(match, "en")


class _Described:
    """A description and its JSON text, serialised once (a few hundred KB
    for an administrator: the text, not the building, would cost most)."""

    def __init__(self, spec):
        self.spec = spec
        self.body = json.dumps(spec, ensure_ascii=False)

    def response(self):
        return current_app.response_class(self.body, mimetype="application/json")


def describe(env, lang):
    """The description as the caller of ``env`` sees the API."""
    return _described(env, lang).spec


def _described(env, lang):
    models = [meta for name, meta in sorted(env.registry.models.items())
              if env.access.allowed(name, "read")]
    key = (lang, tuple(_model_key(env, meta) for meta in models))
    with _lock:
        kept = _kept.setdefault(env.registry, {})
        found = kept.get(key)
    if found is None:
        found = _Described(_build(env, lang, models))
        with _lock:
            if len(kept) >= MAX_KEPT:
                kept.clear()
            kept[key] = found
    return found


def _model_key(env, meta):
    """What of ``meta`` the description depends on for this caller."""
    flow = workflow.matrix(env, meta.name)
    return (meta.name, *view(env, meta), tuple(flow.transitions) if flow else ())


def _build(env, lang, models=()):
    spec = APISpec(TITLE, VERSION, "3.0.3", plugins=[MarshmallowPlugin()], info={
        "description": "JSON in and out; every call but POST /auth/token and GET /openapi.json "
                       "needs Authorization: Bearer TOKEN. Errors: "
                       '{"error": {"code", "message", "details"}}. See docs/api.md.'},
        servers=[{"url": bp.url_prefix}], security=[{"bearer": []}])
    common_components(spec)
    for path, item in generic_paths().items():
        _path(spec, path, item)
    for meta in models:
        _add_model(spec, env, meta, lang)
    data = spec.to_dict()
    data["tags"] = sorted(({"name": t} for t in _tags(data)), key=lambda t: t["name"])
    return data


def _add_model(spec, env, meta, lang):
    schema = record_schema(env, meta, lang)
    spec.components.schema(meta.name, {"title": translate(meta.label or meta.name, lang)},
                           schema=schema)
    _, locked = view(env, meta)
    hidden = env.access.hidden(meta)
    flow = workflow.matrix(env, meta.name)
    model = {"name": meta.name, "fields": [n for n in meta.fields if n not in hidden],
             "columns": [f.name for f in meta.stored if f.name not in hidden],
             "required": create_required(meta, locked),
             "actions": list(flow.transitions) if flow else []}
    for path, item in model_paths(model).items():
        _path(spec, path, item)


def _path(spec, path, item):
    operations = dict(item)
    spec.path(path, operations=operations, parameters=operations.pop("parameters", None))


def _tags(data):
    return {tag for item in data["paths"].values() for op in item.values()
            if isinstance(op, dict) for tag in op.get("tags", ())}

