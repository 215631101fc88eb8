"""Routes of ``/api/v1`` (CONTRACT.md §3): parse → model API → serialise.

Access rules are the model API's: a model the caller may not read is 403
on its data and absent from ``/meta/models`` (404 at
``/meta/models/MODEL``); a record outside the caller's rules answers 404
exactly as a missing one.
"""
import sqlalchemy as sa
from flask import current_app, request

from .. import workflow
from ..errors import AccessDenied, NotFound, UserInputError
from ..i18n import translate
from ..security import audit
from ..security.auth import MAX_PASSWORD_LENGTH, authenticate, issue_token
from . import PUBLIC_ENDPOINTS, bp, http
from .errors import Unauthorized, error_response
from .schemas import check_references

MAX_LOGIN_LENGTH = 256
#: ids are 32-bit integers; larger ones match no route (404)
RECORD = "/data/<model>/<int(max=2147483647):rid>"


@bp.before_request
def _authenticate():
    if request.endpoint not in PUBLIC_ENDPOINTS:
        http.authenticate_request()


@bp.errorhandler(Exception)
def _error(exc):
    return error_response(exc)


# -- authentication ----------------------------------------------------------------------
@bp.post("/auth/token")
def token():
    body = http.body_object()
    bad = [k for k in ("login", "password") if not isinstance(body.get(k), str) or not body[k]]
    if bad:
        raise UserInputError(f"body: {' and '.join(bad)} required (text)",
                             {"parameter": "body", "fields": bad})
    login, password = body["login"], body["password"]
    db = http.database()
    uid = None
    if len(login) <= MAX_LOGIN_LENGTH and len(password) <= MAX_PASSWORD_LENGTH:
        try:
            uid = authenticate(db, login, password)
        except AccessDenied:
            uid = None
    if uid is None:
        _audit_failure(db, login)
        raise Unauthorized("sign-in refused: wrong login or password, or too many failed attempts "
                           "(try again later)")
    with db.unit_of_work(uid, context={"source": "api"}) as env:
        issued = issue_token(env, uid, label="API sign-in")
        audit.log(env, "login", "core.user", uid, user_id=uid)
        expires = issued.expires_at.isoformat() if issued.expires_at is not None else None
    return http.json_response({"token": str(issued), "expires_at": expires})


def _audit_failure(db, login):
    """``login_failed`` (source ``api``) with the id of the account tried
    (``None`` for an unknown login), in a transaction of its own."""
    with db.unit_of_work(None, context={"source": "api"}) as env:
        users = env.registry["core.user"].table
        found = env.conn.execute(sa.select(users.c.id).where(users.c.login == login)).scalar()
        audit.log(env, "login_failed", "core.user", found, {"login": login[:MAX_LOGIN_LENGTH]},
                  user_id=found)


# -- metadata ----------------------------------------------------------------------------
@bp.get("/meta/models")
@http.unit_of_work
def meta_models(env):
    lang = http.language(env)
    return [_describe(env, meta, lang) for name, meta in sorted(env.registry.models.items())
            if env.access.allowed(name, "read")]


@bp.get("/meta/models/<model>")
@http.unit_of_work
def meta_model(env, model):
    meta = env.registry.models.get(model)
    if meta is None or not env.access.allowed(model, "read"):  # module isolation: as if absent
        raise NotFound(f"unknown model {model!r}", {"model": model})
    return _describe(env, meta, http.language(env))


def _describe(env, meta, lang):
    """A model as the caller sees it: hidden fields left out, fields it may
    not change marked read-only, labels in its language; plus what the
    caller may do with the model (``access``) and its ``workflow`` where it
    has one."""
    access = env.access
    hidden, readonly = access.hidden(meta), access.readonly(meta)
    data = meta.describe()
    data["label"] = translate(data["label"], lang)
    data["fields"] = [describe_field(f, lang, f["name"] in readonly)
                      for f in data["fields"] if f["name"] not in hidden]
    data["access"] = {op: access.allowed(meta.name, op) for op in ("read", "create", "write", "delete")}
    flow = workflow.matrix(env, meta.name)
    if flow is not None:
        data["workflow"] = _describe_workflow(flow, lang)
        for fdata in data["fields"]:  # the state field changes only through actions
            if fdata["name"] == flow.field:
                fdata["readonly"] = True
    return data


def _describe_workflow(flow, lang):
    """``{"field", "states", "transitions", "field_modes"}``, labels in the
    caller's language."""
    data = flow.describe()
    for item in data["states"] + data["transitions"]:
        item["label"] = translate(item["label"], lang)
    return data


def describe_field(data, lang, readonly):
    data["label"] = translate(data["label"], lang)
    data["readonly"] = bool(data["readonly"] or readonly)
    if data.get("help"):
        data["help"] = translate(data["help"], lang)
    for option in data.get("selection") or ():
        option["label"] = translate(option["label"], lang)
    return data




# -- data --------------------------------------------------------------------------------
@bp.get("/data/<model>")
@http.unit_of_work
def data_list(env, model):
    records = http.model(env, model)
    domain = http.domain()
    rows = records.search_read(domain, http.fields(records), http.order(),
                               http.integer("limit", http.DEFAULT_LIMIT, http.MAX_LIMIT),
                               http.integer("offset", 0, http.MAX_OFFSET))
    return {"items": [http.record(records._meta, r) for r in rows],
            "total": records.search_count(domain)}


@bp.post("/data/<model>")
@http.unit_of_work
def data_create(env, model):
    records = http.model(env, model)
    values = http.body_object()
    check_references(records._meta, values)
    created = records.create(values)
    return _read_back(created), 201, {"Location": f"{request.path}/{created.id}"}


@bp.get("/data/<model>/group")
@http.unit_of_work
def data_group(env, model):
    records = http.model(env, model)
    groups = records.read_group(http.domain(), http.names("groupby", []),
                                http.names("aggregates", ["id:count"]), http.order(),
                                http.integer("limit", None, http.MAX_OFFSET),
                                http.integer("offset", 0, http.MAX_OFFSET))
    return {"groups": groups}


@bp.get(RECORD)
@http.unit_of_work
def data_read(env, model, rid):
    records = http.model(env, model)
    fields = http.fields(records)
    with _as_missing(model, rid):
        row = records.browse(rid).read(fields)[0]
    return http.record(records._meta, row)


@bp.get(RECORD + "/history")
@http.unit_of_work
def data_history(env, model, rid):
    """The record's audit entries, newest first: what the caller may see."""
    http.model(env, model)
    entries = audit.history(env, model, rid, http.integer("limit", http.DEFAULT_LIMIT, http.MAX_LIMIT),
                            http.integer("offset", 0, http.MAX_OFFSET))
    return {"items": [{**e, "at": e["at"].isoformat() if e["at"] else None} for e in entries]}


@bp.patch(RECORD)
@http.unit_of_work
def data_write(env, model, rid):
    records = http.model(env, model)
    values = http.body_object()
    record = _visible(records, rid)
    check_references(records._meta, values)
    with _as_missing(model, rid):
        record.write(values)
    return _read_back(record)


@bp.delete(RECORD)
@http.unit_of_work
def data_delete(env, model, rid):
    records = http.model(env, model)
    record = _visible(records, rid)
    with _as_missing(model, rid):
        record.unlink()
    return current_app.response_class(status=204)


def _read_back(record):
    """The record as the caller now sees it; only its id when the change put
    it outside the caller's rules (given to another owner)."""
    try:
        row = record.read()[0]
    except NotFound:
        row = {"id": record.id}
    return http.record(record._meta, row)


def _visible(records, rid):
    """The record ``rid`` if the caller may read it; else 404 as a missing
    one (so that a change of a record outside the rules, and a delete the
    caller may not do on it, answer exactly as for a missing id)."""
    record = records.browse(rid)
    with _as_missing(records._name, rid):
        record.read(["id"])
    return record


class _as_missing:
    """Any ``NotFound`` of the record answers with one body, whichever check
    found it missing or out of the caller's rules."""

    def __init__(self, model, rid):
        self.model, self.rid = model, rid

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None and issubclass(kind, NotFound):
            raise NotFound(f"{self.model} {self.rid} does not exist",
                           {"model": self.model, "id": self.rid}) from None
        return False
