"""What every API route needs: the caller (bearer token), the unit of work
of the request, the query string and body read strictly (a malformed value
is 400 naming the parameter), and JSON answers.
"""
import base64
import datetime as dt
import decimal
import functools
import json
import re
import weakref

from flask import current_app, g, request

from ..errors import DomainError, NotFound, UserInputError
from ..fields import Field
from ..i18n import negotiate
from ..security.auth import verify_token
from .errors import Unauthorized

DEFAULT_LIMIT = 80
MAX_LIMIT = 1000
MAX_OFFSET = 2 ** 31 - 1
#: longest ``domain`` accepted (characters): keeps an ``in`` list within what
#: every database binds in one statement
MAX_DOMAIN = 32000
MAX_TOKEN = 200
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_WHOLE = re.compile(r"[0-9]{1,12}\Z")


def database():
    return current_app.extensions["keel.db"]


# -- the caller ------------------------------------------------------------------------
def bearer_token():
    """The token of ``Authorization: Bearer TOKEN``, or ``None``."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN:
        return None
    return token


def authenticate_request():
    """Find the caller from its bearer token (401 without a valid one)."""
    token = bearer_token()
    if token is None:
        raise Unauthorized("send Authorization: Bearer TOKEN (POST /api/v1/auth/token gives one)")
    with database().unit_of_work(None, context={"source": "api"}) as env:
        uid = verify_token(env, token)
    if uid is None:
        raise Unauthorized("the token is unknown, expired or revoked")
    g.keel_api_uid = uid


def unit_of_work(view):
    """Run ``view(env, **url_values)`` in one unit of work as the caller;
    its answer is serialised before the commit (an error rolls everything
    back). A view returns JSON data, ``(data, status[, headers])`` or a
    response."""
    @functools.wraps(view)
    def wrapper(**values):
        with database().unit_of_work(g.keel_api_uid, context={"source": "api"}) as env:
            answer = view(env, **values)
            if isinstance(answer, current_app.response_class):
                return answer
            if not isinstance(answer, tuple):
                answer = (answer,)
            response = json_response(*answer)
        return response
    return wrapper


def language(env):
    """The caller's language: the user's ``lang``, else ``Accept-Language``
    (the one rule of the web UI too: :func:`core.i18n.negotiate`)."""
    return negotiate(env.user_values().get("lang"), request.accept_languages)


# -- JSON ------------------------------------------------------------------------------
def _default(value):
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def json_response(data, status=200, headers=None):
    body = json.dumps(data, default=_default, ensure_ascii=False, allow_nan=False)
    return current_app.response_class(body, status, headers, mimetype="application/json")


def record(meta, row):
    """A row read by the model API as JSON values: each field's own
    ``to_json`` (decimals as text, dates ISO, binary as base64) where its
    type has one; many2one values are already ``{"id", "name"}``."""
    for name, to_json in _converters(meta):
        value = row.get(name)
        if value is not None:
            row[name] = to_json(value)
    return row


_CONVERTERS = weakref.WeakKeyDictionary()


def _converters(meta):
    """``[(field name, to_json)]`` of the fields whose type converts values
    for JSON — a handful per model, found once per model metadata (a list
    page converts 80 rows)."""
    found = _CONVERTERS.get(meta)
    if found is None:
        found = _CONVERTERS[meta] = [
            (f.name, f.to_json) for f in meta.fields.values()
            if f.column and f.type != "many2one" and type(f).to_json is not Field.to_json]
    return found


# -- the request -----------------------------------------------------------------------
def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _loads(text, what):
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise UserInputError(f"{what}: not valid JSON ({str(exc).splitlines()[0][:120]})",
                             {"parameter": what}) from None


def body_object():
    """The request body: a JSON object."""
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UserInputError("body: not UTF-8 text", {"parameter": "body"}) from None
    if not text.strip():
        raise UserInputError("body: expected a JSON object, got nothing", {"parameter": "body"})
    value = _loads(text, "body")
    if not isinstance(value, dict):
        raise UserInputError(f"body: expected a JSON object, got {type(value).__name__}",
                             {"parameter": "body"})
    return value


def model(env, name):
    """The model's empty recordset; 404 for a model this database lacks."""
    if name not in env.registry.models:
        raise NotFound(f"unknown model {name!r}", {"model": name})
    return env[name]


def domain():
    text = request.args.get("domain")
    if text is None or not text.strip():
        return []
    if len(text) > MAX_DOMAIN:
        raise DomainError(f"domain: longer than {MAX_DOMAIN} characters", {"parameter": "domain"})
    value = _loads(text, "domain")
    if not isinstance(value, list):
        raise DomainError("domain: expected a JSON list of [field, operator, value] terms "
                          "and '&', '|', '!'", {"parameter": "domain"})
    return value


def integer(name, default, maximum):
    """A whole number ≥ 0 of the query string, at most ``maximum``."""
    text = request.args.get(name)
    if text is None or text == "":
        return default
    if not _WHOLE.match(text.strip()):
        raise UserInputError(f"{name}: expected a whole number ≥ 0, got {text[:40]!r}",
                             {"parameter": name})
    value = int(text.strip())
    if value > maximum:
        raise UserInputError(f"{name}: at most {maximum}, got {value}", {"parameter": name})
    return value


def names(name, default=None):
    """A comma-separated list of the query string (no empty item)."""
    text = request.args.get(name)
    if text is None or not text.strip():
        return default
    items = [i.strip() for i in text.split(",")]
    if not all(items):
        raise UserInputError(f"{name}: an empty item in {text[:80]!r}", {"parameter": name})
    return items


def fields(records):
    """``fields=a,b``: names of fields the caller may read (``None``: all)."""
    wanted = names("fields")
    if wanted is None:
        return None
    meta = records._meta
    hidden = records.env.access.hidden(meta)
    for fname in wanted:
        if not _NAME.match(fname):
            raise DomainError(f"fields: bad field name {fname[:60]!r}", {"parameter": "fields"})
        if fname not in meta.fields or fname in hidden:
            raise DomainError(f"fields: {meta.name} has no field {fname!r}", {"parameter": "fields"})
    return wanted


def order():
    text = request.args.get("order")
    return text if text and text.strip() else None
