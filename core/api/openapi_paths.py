"""The calls of ``/api/v1`` as OpenAPI operations (CONTRACT.md §3).

:func:`generic_paths` describes every route with ``{model}`` as a
parameter; :func:`model_paths` the same data calls for one model, its field
names and workflow actions spelled out. Parameters, answers and the error
shape are components, written once.
"""
from .http import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET

OPERATORS = ["=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "ilike"]
#: error answers: status -> (component, description)
ERRORS = {400: ("BadRequest", "bad_request: a malformed parameter, domain or body, named in "
                              "details.parameter"),
          401: ("Unauthorized", "unauthorized: no token, or an unknown, expired or revoked one"),
          403: ("Forbidden", "forbidden: the caller's roles may not do this"),
          404: ("NotFound", "not_found: no such model or record, or a record outside the "
                            "caller's record rules"),
          409: ("Conflict", "conflict: a stale version, a duplicate (details.duplicates), an action "
                            "not allowed from the current state (details.allowed_actions)"),
          422: ("ValidationError", "validation_error: a value refused, named in details.field; "
                                   "fields required by a state in details.fields")}
ID_MAX = 2 ** 31 - 1


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def _answers(ok, *errors):
    """``ok``: ``{status: response}``; ``errors``: statuses of ``ERRORS``
    (401 always)."""
    answers = {str(status): response for status, response in ok.items()}
    for status in sorted({401, *errors}):
        answers[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status][0]}"}
    return answers


def _param(name):
    """A parameter component, by name (apispec makes it a ``$ref``)."""
    return name


# -- components ----------------------------------------------------------------------------
def common_components(spec):
    """Schemas, parameters, answers and the bearer scheme every path uses."""
    c = spec.components
    c.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                 "description": "a token of POST /auth/token or `keel user token`"})
    c.schema("Error", {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "object"}}}}})
    for status, (name, text) in ERRORS.items():
        c.response(name, {"description": text, **_json(_ref("Error"))})
    c.schema("Reference", {"type": "object", "required": ["id", "name"], "description":
                           "a many2one value as read (write the id alone)",
                           "properties": {"id": {"type": "integer"},
                                          "name": {"type": "string", "nullable": True}}})
    c.schema("Record", {"type": "object", "required": ["id"], "additionalProperties": True,
                        "properties": {"id": {"type": "integer"}, "version": {"type": "integer"}}})
    c.schema("Values", {"type": "object", "additionalProperties": True,
                        "description": "field values; a PATCH may carry the version read"})
    c.schema("Term", {"type": "array", "minItems": 3, "maxItems": 3,
                      "items": {}, "description": "[field, operator, value]; operators: "
                      + ", ".join(OPERATORS)})
    c.schema("Domain", {"type": "array", "items": {"anyOf": [
        {"type": "string", "enum": ["&", "|", "!"]}, _ref("Term")]}})
    c.schema("Approval", {"type": "object", "required": ["id", "state"], "properties": {
        "id": {"type": "integer"}, "model": {"type": "string"}, "record_id": {"type": "integer"},
        "action": {"type": "string"}, "level": {"type": "integer"},
        "state": {"type": "string", "enum": ["pending", "approved", "rejected", "withdrawn"]}}})
    c.schema("Attachment", {"type": "object", "required": ["id", "name"], "properties": {
        "id": {"type": "integer"}, "name": {"type": "string"},
        "mimetype": {"type": "string", "nullable": True}, "size": {"type": "integer", "nullable": True},
        "created_at": {"type": "string", "nullable": True}}})
    c.schema("AuditEntry", {"type": "object", "required": ["id"], "properties": {
        "id": {"type": "integer"}, "at": {"type": "string", "nullable": True}}})
    c.schema("ModelInfo", {"type": "object", "required": ["name", "label", "fields"], "properties": {
        "name": {"type": "string"}, "label": {"type": "string"},
        "addon": {"type": "string", "nullable": True},
        "fields": {"type": "array", "items": _ref("FieldInfo")},
        "access": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "workflow": {"type": "object", "properties": {
            "field": {"type": "string"}, "states": {"type": "array", "items": {"type": "object"}},
            "transitions": {"type": "array", "items": {"type": "object", "properties": {
                "action": {"type": "string"}, "from": {"type": "array", "items": {"type": "string"}},
                "to": {"type": "string"}}}}}}}})
    c.schema("FieldInfo", {"type": "object", "required": ["name", "type", "label"], "properties": {
        "name": {"type": "string"}, "type": {"type": "string"}, "label": {"type": "string"},
        "required": {"type": "boolean"}, "readonly": {"type": "boolean"},
        "relation": {"type": "string"}, "selection": {"type": "array", "items": {
            "type": "object", "properties": {"value": {"type": "string"}, "label": {"type": "string"}}}}}})
    _parameters(c)


def _parameters(c):
    c.parameter("model", "path", {"schema": {"type": "string", "pattern": r"^[a-z_][a-z0-9_.]*$"},
                                  "description": "a model name, e.g. crm.customer"})
    c.parameter("id", "path", {"schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}})
    c.parameter("domain", "query", {"description": "a JSON list of [field, operator, value] terms "
                                    "and the prefix operators '&', '|', '!'",
                                    "content": {"application/json": {"schema": _ref("Domain")}}})
    c.parameter("fields", "query", {"schema": {"type": "string"}, "example": "name,city",
                                    "description": "comma-separated field names (default: all)"})
    c.parameter("order", "query", {"schema": {"type": "string"}, "example": "name desc, id",
                                   "description": "comma-separated fields, each optionally asc/desc"})
    c.parameter("limit", "query", {"schema": {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT,
                                              "default": DEFAULT_LIMIT}})
    c.parameter("offset", "query", {"schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                                               "default": 0}})


# -- shared shapes of data calls -----------------------------------------------------------
def _list_of(item):
    return {"type": "object", "required": ["items", "total"], "properties": {
        "items": {"type": "array", "items": item}, "total": {"type": "integer"}}}


def _comment_body():
    return {"required": False, **_json({"type": "object", "properties": {"comment": {"type": "string"}},
                                        "additionalProperties": False})}


def _data_ops(tag, record, values, create_body, fields_param, domain_param, groupby_param):
    """``{suffix: operations}`` of the data calls of one model (or of ``{model}``)."""
    listing = [domain_param, fields_param, _param("order"), _param("limit"), _param("offset")]
    action_ok = {"200": {"description": "the record after the transition", **_json(record)},
                 "202": {"description": "an approval policy holds the action", **_json({
                     "type": "object", "required": ["approval"],
                     "properties": {"approval": _ref("Approval")}})}}
    return {
        "": {"get": {"tags": [tag], "summary": "search and read (a page and the total)",
                     "parameters": listing,
                     "responses": _answers({200: {"description": "a page", **_json(_list_of(record))}},
                                           400, 403, 404)},
             "post": {"tags": [tag], "summary": "create a record",
                      "requestBody": {"required": True, **_json(create_body)},
                      "responses": _answers({201: {"description": "the record", **_json(record)}},
                                            400, 403, 404, 409, 422)}},
        "/group": {"get": {"tags": [tag], "summary": "counts and sums by group (SQL GROUP BY)",
                           "parameters": [domain_param, groupby_param, {
                               "name": "aggregates", "in": "query", "schema": {"type": "string"},
                               "example": "amount:sum,id:count",
                               "description": "field:function, functions count, sum, avg, min, max"},
                               _param("order"), _param("limit"), _param("offset")],
                           "responses": _answers({200: {"description": "the groups", **_json({
                               "type": "object", "required": ["groups"], "properties": {
                                   "groups": {"type": "array", "items": {"type": "object"}}}})}},
                               400, 403, 404)}},
        "/export": {"get": {"tags": [tag], "summary": "the file `keel export` writes",
                            "parameters": [{"name": "format", "in": "query", "schema": {
                                "type": "string", "enum": ["csv", "xlsx"], "default": "csv"}},
                                domain_param, fields_param],
                            "responses": _answers({200: {"description": "the file", "content": {
                                "text/csv": {"schema": {"type": "string"}},
                                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                                    {"schema": {"type": "string", "format": "binary"}}}}},
                                400, 403, 404)}},
        "/import": {"post": {
            "tags": [tag], "summary": "import a CSV or XLSX file, all rows or none (docs/import.md)",
            "parameters": [
                {"name": "dry_run", "in": "query", "schema": {"type": "boolean"},
                 "description": "check every row, write nothing"},
                {"name": "on_duplicate", "in": "query",
                 "schema": {"type": "string", "enum": ["error", "skip", "update"], "default": "error"}},
                {"name": "ignore_unknown", "in": "query", "schema": {"type": "boolean"}},
                {"name": "filename", "in": "query", "schema": {"type": "string"},
                 "description": "the file's name (its suffix tells CSV from XLSX) when it is the body"}],
            "requestBody": {"required": True, "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                    {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {"schema": {"type": "object", "properties": {
                    "file": {"type": "string", "format": "binary"}}}}}},
            "responses": _answers({200: {"description": "counts, and every bad row of a dry run",
                                         **_json({"type": "object", "properties": {
                                             "created": {"type": "integer"},
                                             "updated": {"type": "integer"},
                                             "skipped": {"type": "integer"},
                                             "errors": {"type": "array", "items": {
                                                 "type": "object", "properties": {
                                                     "line": {"type": "integer"},
                                                     "column": {"type": "string", "nullable": True},
                                                     "value": {"nullable": True},
                                                     "reason": {"type": "string"}}}}}})}},
                                  400, 403, 404, 422)}},
        "/{id}": {"parameters": [_param("id")],
                  "get": {"tags": [tag], "summary": "read one record (with its version)",
                          "parameters": [fields_param],
                          "responses": _answers({200: {"description": "the record", **_json(record)}},
                                                400, 403, 404)},
                  "patch": {"tags": [tag], "summary": "change fields; a stale version is 409",
                            "requestBody": {"required": True, **_json(values)},
                            "responses": _answers({200: {"description": "the record", **_json(record)}},
                                                  400, 403, 404, 409, 422)},
                  "delete": {"tags": [tag], "summary": "delete",
                             "responses": _answers({204: {"description": "deleted"}}, 403, 404, 409)}},
        "/{id}/history": {"parameters": [_param("id")], "get": {
            "tags": [tag], "summary": "the record's audit entries, newest first",
            "parameters": [_param("limit"), _param("offset")],
            "responses": _answers({200: {"description": "entries", **_json({
                "type": "object", "properties": {"items": {"type": "array", "items": _ref("AuditEntry")}}})}},
                400, 403, 404)}},
        "/{id}/actions": {"parameters": [_param("id")], "get": {
            "tags": [tag], "summary": "the workflow actions the caller may run now",
            "responses": _answers({200: {"description": "actions", **_json({
                "type": "object", "required": ["allowed_actions"], "properties": {
                    "allowed_actions": {"type": "array", "items": {"type": "string"}}}})}},
                400, 403, 404)}},
        "/{id}/attachments": {"parameters": [_param("id")], "get": {
            "tags": [tag], "summary": "the files attached to the record",
            "responses": _answers({200: {"description": "files", **_json(_list_of(_ref("Attachment")))}},
                                  403, 404)},
            "post": {"tags": [tag], "summary": "attach files: a multipart upload (file) or JSON",
                     "requestBody": {"required": True, "content": {
                         "application/json": {"schema": {
                             "type": "object", "required": ["name", "data"], "properties": {
                                 "name": {"type": "string"}, "data": {"type": "string", "format": "byte"},
                                 "mimetype": {"type": "string"}}}},
                         "multipart/form-data": {"schema": {"type": "object", "properties": {
                             "file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
                     "responses": _answers({201: {"description": "the new files", **_json({
                         "type": "object", "properties": {"items": {"type": "array",
                                                                    "items": _ref("Attachment")}}})}},
                         400, 403, 404, 422)}},
        "/{id}/actions/{action}": {"post": {
            "tags": [tag], "summary": "run a workflow action",
            "requestBody": _comment_body(),
            "responses": _answers(action_ok, 400, 403, 404, 409, 422)}},
    }


def _prefix(base, ops):
    return {base + suffix: item for suffix, item in ops.items()}


# -- the paths ------------------------------------------------------------------------------
def model_paths(model):
    """The data calls of one model. ``model``: ``{"name", "fields"
    (visible), "columns" (visible stored), "required" (on create),
    "actions"}``."""
    name = model["name"]
    record = _ref(name)
    create = {"allOf": [record, {"type": "object", "required": model["required"]}]} \
        if model["required"] else record
    fields = {"name": "fields", "in": "query", "style": "form", "explode": False,
              "description": "field names (default: all)",
              "schema": {"type": "array", "items": {"type": "string", "enum": model["fields"]}}}
    term = {"type": "array", "minItems": 3, "maxItems": 3, "items": {}, "description":
            "[field, operator, value] with field one of: " + ", ".join(model["columns"])}
    domain = {"name": "domain", "in": "query", "description": "a JSON domain over " + name,
              "content": {"application/json": {"schema": {"type": "array", "items": {"anyOf": [
                  {"type": "string", "enum": ["&", "|", "!"]}, term]}}}}}
    groupby = {"name": "groupby", "in": "query", "style": "form", "explode": False,
               "schema": {"type": "array", "items": {"type": "string", "enum": model["columns"]}}}
    ops = _data_ops(name, record, record, create, fields, domain, groupby)
    actions = model["actions"]
    action = ops["/{id}/actions/{action}"]
    action["parameters"] = [_param("id"), {"name": "action", "in": "path", "required": True,
                                           "schema": {"type": "string", **({"enum": actions} if actions else {})}}]
    return _prefix(f"/data/{name}", ops)


def generic_paths():
    """Every call, models as a ``{model}`` parameter."""
    groupby = {"name": "groupby", "in": "query", "schema": {"type": "string"},
               "example": "stage,owner_id", "description": "comma-separated fields"}
    ops = _data_ops("data", _ref("Record"), _ref("Values"), _ref("Values"), _param("fields"),
                    _param("domain"), groupby)
    ops["/{id}/actions/{action}"]["parameters"] = [
        _param("id"), {"name": "action", "in": "path", "required": True, "schema": {"type": "string"}}]
    paths = _prefix("/data/{model}", ops)
    for item in paths.values():
        item.setdefault("parameters", []).insert(0, _param("model"))
    paths.update(_other_paths())
    from . import imports, merge, notifications, reports, trash  # the platform services' routes
    for module in (imports, merge, notifications, reports, trash):
        if hasattr(module, "openapi_paths"):
            paths.update(module.openapi_paths())
    return paths


def _other_paths():
    approval_id = {"name": "id", "in": "path", "required": True,
                   "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX}}
    decision = {"name": "decision", "in": "path", "required": True, "schema": {
        "type": "string", "enum": ["approve", "reject", "return", "withdraw"]},
        "description": "return: back one level (退回); withdraw: by the requester"}
    token_body = {"type": "object", "required": ["login", "password"], "properties": {
        "login": {"type": "string", "minLength": 1}, "password": {"type": "string", "minLength": 1}}}
    token_ok = {"type": "object", "required": ["token", "expires_at"], "properties": {
        "token": {"type": "string"}, "expires_at": {"type": "string", "nullable": True}}}
    model_info = {"200": {"description": "the model", **_json(_ref("ModelInfo"))}}
    return {
        "/auth/token": {"post": {
            "tags": ["auth"], "summary": "a token for a login and password", "security": [],
            "requestBody": {"required": True, **_json(token_body)},
            "responses": _answers({200: {"description": "the token", **_json(token_ok)}}, 400)}},
        "/openapi.json": {"get": {
            "tags": ["meta"], "summary": "this description; with a token, the caller's models too",
            "security": [{}, {"bearer": []}],
            "responses": _answers({200: {"description": "OpenAPI 3", **_json({"type": "object"})}})}},
        "/meta/models": {"get": {
            "tags": ["meta"], "summary": "the models the caller may read",
            "responses": _answers({200: {"description": "models", **_json(
                {"type": "array", "items": _ref("ModelInfo")})}})}},
        "/meta/models/{model}": {"parameters": [_param("model")], "get": {
            "tags": ["meta"], "summary": "one model, with its workflow",
            "responses": _answers(model_info, 404)}},
        "/meta/models/{model}/fields": {"parameters": [_param("model")], "post": {
            "tags": ["meta"], "summary": "add a user-defined field (administrators)",
            "requestBody": {"required": True, **_json({"type": "object", "required": ["name", "type"],
                                                       "properties": {
                "name": {"type": "string", "pattern": "^x_[a-z0-9_]+$"}, "type": {"type": "string"},
                "label": {"type": "string"}, "selection": {"type": "array", "items": {"type": "string"}},
                "relation": {"type": "string"}, "required": {"type": "boolean"},
                "index": {"type": "boolean"}, "default": {}}})},
            "responses": _answers({201: {"description": "the field", **_json(_ref("FieldInfo"))}},
                                  400, 403, 404, 422)}},
        "/meta/models/{model}/fields/{name}": {
            "parameters": [_param("model"), {"name": "name", "in": "path", "required": True,
                                             "schema": {"type": "string"}}],
            "delete": {"tags": ["meta"], "summary": "remove a user-defined field (values archived)",
                       "parameters": [{"name": "confirm", "in": "query",
                                       "schema": {"type": "string", "enum": ["true", "false"]}}],
                       "responses": _answers({204: {"description": "removed"}}, 400, 403, 404, 422)}},
        "/approvals": {"get": {
            "tags": ["approvals"], "summary": "requests waiting on the caller (state=pending), or "
                                              "that the caller made or had a part in",
            "parameters": [{"name": "state", "in": "query", "schema": {
                "type": "string", "enum": ["pending", "approved", "rejected", "withdrawn"]}},
                {"name": "mine", "in": "query", "schema": {"type": "string"},
                 "description": "with state=pending: the caller's own requests"},
                _param("limit"), _param("offset")],
            "responses": _answers({200: {"description": "requests", **_json(_list_of(_ref("Approval")))}},
                                  400)}},
        "/approvals/{id}": {"parameters": [approval_id], "get": {
            "tags": ["approvals"], "summary": "one request with its approvers (tasks)",
            "responses": _answers({200: {"description": "the request", **_json(_ref("Approval"))}}, 404)}},
        "/approvals/{id}/{decision}": {"parameters": [approval_id, decision], "post": {
            "tags": ["approvals"], "summary": "approve, reject, return or withdraw",
            "requestBody": _comment_body(),
            "responses": _answers({200: {"description": "the request", **_json(_ref("Approval"))}},
                                  400, 403, 404, 409, 422)}},
        "/approvals/{id}/cosign": {"parameters": [approval_id], "post": {
            "tags": ["approvals"], "summary": "add a co-signer (加签)",
            "requestBody": {"required": True, **_json({"type": "object", "required": ["user_id"],
                                                       "properties": {"user_id": {"type": "integer"},
                                                                      "comment": {"type": "string"}}})},
            "responses": _answers({200: {"description": "the request", **_json(_ref("Approval"))}},
                                  400, 403, 404, 409, 422)}},
        "/attachments/{id}": {"parameters": [_param("id")], "get": {
            "tags": ["attachments"], "summary": "the file itself, as a download",
            "responses": _answers({200: {"description": "the file", "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}},
                403, 404)},
            "delete": {"tags": ["attachments"], "summary": "remove a file",
                       "responses": _answers({204: {"description": "removed"}}, 403, 404)}},
        "/users/{id}/activity": {"parameters": [_param("id")], "get": {
            "tags": ["audit"], "summary": "what a user did (their own, or anyone's for audit readers)",
            "parameters": [{"name": "model", "in": "query", "schema": {"type": "string"}},
                           _param("limit"), _param("offset")],
            "responses": _answers({200: {"description": "entries", **_json({
                "type": "object", "properties": {"items": {"type": "array", "items": _ref("AuditEntry")}}})}},
                400, 403, 404)}},
    }
