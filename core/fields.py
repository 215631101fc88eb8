"""Field types of model metadata.

A field knows its column type, how to check and convert an incoming value
(``convert`` raises ``ValueError`` with the reason; the model API turns that
into a ``ValidationError`` naming model, field and value) and how it
describes itself to the API and the UI.
"""
import base64
import copy
import datetime as dt
import decimal
import json
import math

import sqlalchemy as sa

_MISSING = object()


class Field:
    type = None
    #: stored in a column of the model's own table
    column = True

    def __init__(self, label=None, *, required=False, default=None, unique=False, index=False,
                 help="", readonly=False, sequence=None, compute=None, depends=(), secret=False,
                 translate=False):
        self.name = None
        self.model = None
        self.addon = None
        self.label = label
        self.required = required
        self.default = default
        self.unique = unique
        self.index = index
        self.help = help
        self.readonly = readonly
        #: code of a ``core.sequence`` giving the value when none is given
        self.sequence = sequence
        #: ``compute(values) -> value``: stored value computed from the
        #: record's other fields (``depends``) on create and on write
        self.compute = compute
        self.depends = tuple(depends)
        #: never read, searched or written through the model API but by the
        #: system context (password hashes, token hashes)
        self.secret = secret
        #: the value is text an addon ships in English, marked ``_()`` (a
        #: role's name): stored as given, shown through the catalogs
        self.translate = translate
        self.custom = False

    def __repr__(self):
        return f"<{self.__class__.__name__} {self.model}.{self.name}>"

    def clone(self, **changes):
        other = copy.copy(self)
        for key, value in changes.items():
            if not hasattr(other, key):
                raise TypeError(f"{self.type} field has no attribute {key!r}")
            setattr(other, key, value)
        return other

    # -- database -----------------------------------------------------
    def sa_type(self):
        raise NotImplementedError

    def sa_column(self):
        return sa.Column(self.name, self.sa_type(), nullable=True)

    # -- values -------------------------------------------------------
    def convert(self, value):
        """Check ``value`` and return what is stored; ``None`` clears."""
        return value

    def to_json(self, value):
        return value

    def describe(self):
        return {"name": self.name, "type": self.type, "label": self.label or self.name,
                "required": self.required, "readonly": self.readonly, "help": self.help}


class Char(Field):
    type = "char"

    def __init__(self, label=None, size=None, **kw):
        super().__init__(label, **kw)
        self.size = size

    def sa_type(self):
        return sa.String(self.size) if self.size else sa.String()

    def convert(self, value):
        if value is None or value.__class__ is str:
            if self.size and value is not None and len(value) > self.size:
                raise ValueError(f"longer than {self.size} characters")
            return value
        if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
            return str(value)
        raise ValueError("expected text")


class Text(Char):
    type = "text"

    def sa_type(self):
        return sa.Text()


class Integer(Field):
    type = "integer"

    def sa_type(self):
        return sa.Integer()

    #: the column is a 32-bit INTEGER on PostgreSQL
    MIN, MAX = -2 ** 31, 2 ** 31 - 1

    def convert(self, value):
        if value is None:
            return value
        if value.__class__ is not int:
            value = self._to_int(value)
        if not self.MIN <= value <= self.MAX:
            raise ValueError(f"is out of range ({self.MIN} to {self.MAX})")
        return value

    @staticmethod
    def _to_int(value):
        if isinstance(value, bool):
            raise ValueError("expected an integer, got a boolean")
        if isinstance(value, (float, decimal.Decimal)) and math.isfinite(value) and value == int(value):
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ValueError("expected an integer")


class Float(Field):
    type = "float"

    def sa_type(self):
        return sa.Float()

    def convert(self, value):
        if value is None:
            return value
        if isinstance(value, bool):
            raise ValueError("expected a number, got a boolean")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError("expected a number")
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return number


class Decimal(Field):
    """Exact amounts (money): ``digits`` in all, ``scale`` after the point."""
    type = "decimal"

    def __init__(self, label=None, digits=18, scale=2, **kw):
        super().__init__(label, **kw)
        self.digits, self.scale = digits, scale
        self._quantum = decimal.Decimal(1).scaleb(-scale)

    def sa_type(self):
        return sa.Numeric(self.digits, self.scale, asdecimal=True)

    def convert(self, value):
        if value is None:
            return None
        if isinstance(value, bool):
            raise ValueError("expected an amount, got a boolean")
        try:
            number = value if value.__class__ is decimal.Decimal else decimal.Decimal(
                str(value).strip() if not isinstance(value, float) else repr(value))
            if not number.is_finite():
                raise ValueError
            number = number.quantize(self._quantum, rounding=decimal.ROUND_HALF_UP)
        except (decimal.InvalidOperation, ValueError, TypeError):
            raise ValueError("expected an amount")
        if number.adjusted() >= self.digits - self.scale:
            raise ValueError(f"more than {self.digits - self.scale} digits before the point")
        return number

    def to_json(self, value):
        return None if value is None else str(value)


class Boolean(Field):
    type = "boolean"
    _TEXT = {"1": True, "true": True, "yes": True, "y": True, "是": True,
             "0": False, "false": False, "no": False, "n": False, "否": False, "": False}

    def sa_type(self):
        return sa.Boolean()

    def convert(self, value):
        if value is None or value is True or value is False:
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in self._TEXT:
            return self._TEXT[value.strip().lower()]
        raise ValueError("expected true or false")


class Date(Field):
    type = "date"

    def sa_type(self):
        return sa.Date()

    def convert(self, value):
        if value is None or value.__class__ is dt.date:
            return value
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise ValueError("expected a date as YYYY-MM-DD")

    def to_json(self, value):
        return None if value is None else value.isoformat()


class Datetime(Field):
    """Stored as naive UTC; aware values are converted to UTC."""
    type = "datetime"

    def sa_type(self):
        return sa.DateTime()

    def convert(self, value):
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                raise ValueError("expected a date and time as YYYY-MM-DDTHH:MM[:SS]")
        elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            value = dt.datetime(value.year, value.month, value.day)
        if not isinstance(value, dt.datetime):
            raise ValueError("expected a date and time")
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    def to_json(self, value):
        return None if value is None else value.isoformat()


class Selection(Field):
    """One of a list of ``(value, label)`` options; addons may add options."""
    type = "selection"

    def __init__(self, label=None, options=(), **kw):
        super().__init__(label, **kw)
        self.options = [(o, o) if isinstance(o, str) else tuple(o) for o in options]

    @property
    def values(self):
        return [v for v, _ in self.options]

    def sa_type(self):
        return sa.String()

    def convert(self, value):
        try:
            if value is None or value in self._valid():
                return value
        except TypeError:  # unhashable: a list, a dict…
            pass
        raise ValueError(f"is not one of {', '.join(self.values)}")

    def _valid(self):
        valid = getattr(self, "_valid_set", None)
        if valid is None or len(valid) != len(self.options):
            valid = self._valid_set = frozenset(self.values)
        return valid

    def describe(self):
        data = super().describe()
        data["selection"] = [{"value": v, "label": lbl} for v, lbl in self.options]
        return data


class Many2one(Field):
    """A reference to one record of ``relation``; ``ondelete`` is one of
    ``set null`` (default), ``restrict`` or ``cascade``."""
    type = "many2one"
    ONDELETE = ("set null", "restrict", "cascade")

    def __init__(self, relation, label=None, ondelete="set null", **kw):
        super().__init__(label, **kw)
        if ondelete not in self.ONDELETE:
            raise ValueError(f"ondelete must be one of {', '.join(self.ONDELETE)}")
        self.relation = relation
        self.ondelete = ondelete

    def sa_type(self):
        return sa.Integer()

    def sa_column(self):
        from .registry import table_name
        return sa.Column(self.name, sa.Integer(),
                         # use_alter: models may refer to each other (user <-> department);
                         # PostgreSQL then adds the constraint after creating both tables
                         sa.ForeignKey(f"{table_name(self.relation)}.id", ondelete=self.ondelete.upper(),
                                       name=f"fk_{table_name(self.model)}_{self.name}", use_alter=True),
                         nullable=True)

    def convert(self, value):
        if value is None or value.__class__ is int:
            return value
        ids = getattr(value, "ids", None)
        if ids is not None:
            if len(ids) > 1:
                raise ValueError("expected one record")
            return ids[0] if ids else None
        if isinstance(value, dict) and "id" in value:
            return self.convert(value["id"])
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        raise ValueError("expected a record id")

    def describe(self):
        return {**super().describe(), "relation": self.relation}


class One2many(Field):
    """The records of ``relation`` whose many2one ``inverse`` points here."""
    type = "one2many"
    column = False

    def __init__(self, relation, inverse, label=None, **kw):
        super().__init__(label, **kw)
        self.relation, self.inverse = relation, inverse

    def describe(self):
        return {**super().describe(), "relation": self.relation}


class Many2many(Field):
    """A set of records of ``relation``, kept in a link table."""
    type = "many2many"
    column = False

    def __init__(self, relation, label=None, **kw):
        super().__init__(label, **kw)
        self.relation = relation

    def link_table_name(self):
        from .registry import table_name
        return f"{table_name(self.model)}__{self.name}"

    def convert(self, value):
        if value is None:
            return []
        ids = getattr(value, "ids", None)
        if ids is not None:
            return list(ids)
        if isinstance(value, (list, tuple, set)):
            out = []
            for item in value:
                if isinstance(item, dict):
                    item = item.get("id")
                if isinstance(item, bool) or not isinstance(item, int):
                    raise ValueError("expected a list of record ids")
                out.append(item)
            return out
        raise ValueError("expected a list of record ids")

    def describe(self):
        return {**super().describe(), "relation": self.relation}


class Json(Field):
    type = "json"

    def sa_type(self):
        # None is SQL NULL (not the JSON text 'null'), so "= None" finds it
        return sa.JSON(none_as_null=True)

    def convert(self, value):
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError("is not JSON data")
        return value


class Binary(Field):
    """File content; given as bytes or base64 text."""
    type = "binary"

    def sa_type(self):
        return sa.LargeBinary()

    def convert(self, value):
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                raise ValueError("expected bytes or base64 text")
        raise ValueError("expected bytes or base64 text")

    def to_json(self, value):
        return None if value is None else base64.b64encode(value).decode("ascii")


TYPES = {cls.type: cls for cls in (Char, Text, Integer, Float, Decimal, Boolean, Date, Datetime,
                                   Selection, Many2one, One2many, Many2many, Json, Binary)}

__all__ = [cls.__name__ for cls in TYPES.values()] + ["Field", "TYPES"]
