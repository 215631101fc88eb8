"""The web UI's language, its texts and locale formatting (Flask-Babel).

Templates and views write English text inside ``_("…")`` (templates) or
``gettext("…")`` (Python); it is shown in the request's language: the
signed-in user's ``lang`` if set, else the browser's ``Accept-Language``
(Simplified Chinese or English), else English — :func:`core.i18n.negotiate`,
the API's rule too. The translations are the gettext catalogs of the kernel
and of every addon (:mod:`core.i18n`), handed to Flask-Babel as its domain.

Dates, times, numbers and money are formatted per locale by the functions
below, also Jinja filters: ``{{ value|format_date }}``, ``format_datetime``
(in the user's time zone), ``format_number``, ``format_money`` (CNY unless
told). Datetimes are stored as naive UTC; they are shown in the user's
``tz`` if it is a known time zone, else in ``BABEL_DEFAULT_TIMEZONE``
(``Asia/Shanghai`` unless configured): Keel's users work in China whatever
language they read, so the language says nothing about where they sit.
"""
import flask_babel
import pytz
import sqlalchemy as sa
from babel import dates
from flask import g, has_request_context, request

from ..i18n import DEFAULT, LANGUAGES, negotiate, translations

DEFAULT_TIMEZONE = "Asia/Shanghai"
CURRENCY = "CNY"
_USERS = sa.table("core_user", sa.column("id"), sa.column("tz"))


class _Catalogs(flask_babel.Domain):
    """Flask-Babel's domain reading Keel's catalogs (kernel and addons,
    compiled once per process) instead of ``.mo`` files of one directory."""

    def get_translations(self):
        return translations(best_language())


class _Babel(flask_babel.Babel):
    """Flask-Babel whose default domain is :class:`_Catalogs`."""
    domain_instance = _Catalogs()


def init_app(app):
    """Flask-Babel on ``app``: the request's language and time zone, the
    ``gettext`` of Jinja's i18n extension, and the formatting filters."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", DEFAULT_TIMEZONE)
    _Babel(app, locale_selector=best_language, timezone_selector=user_timezone)
    app.jinja_env.filters.update(format_date=format_date, format_datetime=format_datetime,
                                 format_number=format_number, format_money=format_money)


def best_language():
    """The language of the current request (cached on ``flask.g``)."""
    if not has_request_context():
        return DEFAULT
    lang = g.get("keel_lang")
    if lang is None:
        from flask_login import current_user
        lang = g.keel_lang = negotiate(getattr(current_user, "lang", None), request.accept_languages)
    return lang


def user_timezone():
    """The signed-in user's ``tz`` if it names a time zone, else ``None``
    (Flask-Babel then uses ``BABEL_DEFAULT_TIMEZONE``). Read when a page
    first formats a datetime: one small query, only for such pages."""
    from flask_login import current_user
    if not has_request_context() or not getattr(current_user, "is_authenticated", False):
        return None
    from .session import database
    with database().transaction() as conn:
        tz = conn.execute(sa.select(_USERS.c.tz).where(_USERS.c.id == current_user.id)).scalar()
    return tz if tz in pytz.all_timezones_set else None


def gettext(text, **values):
    """``text`` in the request's language, with ``%(name)s`` placeholders
    filled from ``values`` (after translation)."""
    return flask_babel.gettext(text, **values)


_ = gettext


def html_lang():
    return LANGUAGES[best_language()]


# -- formatting (the request's locale and time zone; None shows as nothing) ------------
def format_date(value, format="medium"):
    """A date (or the day of a datetime, in the user's time zone):
    ``Mar 5, 2026`` / ``2026年3月5日``."""
    return "" if value is None else flask_babel.format_date(value, format)


def format_datetime(value, format=None):
    """A naive-UTC or aware datetime in the user's time zone; by default the
    medium date and the short time: ``Mar 5, 2026, 10:30 PM`` /
    ``2026年3月5日 22:30`` (Babel's medium form would add seconds)."""
    if value is None:
        return ""
    if format is not None:
        return flask_babel.format_datetime(value, format)
    local, locale = flask_babel.to_user_timezone(value), flask_babel.get_locale()
    pattern = dates.get_datetime_format("medium", locale=locale)
    return (pattern.replace("{1}", dates.format_date(local, "medium", locale=locale))
            .replace("{0}", dates.format_time(local, "short", locale=locale)))


def format_number(value):
    """A number with the locale's grouping and decimal signs: ``1,234.5``."""
    return "" if value is None else flask_babel.format_decimal(value)


def format_money(value, currency=CURRENCY):
    """An amount as the locale writes money: ``¥1,234.50`` in Chinese,
    ``CN¥1,234.50`` in English (Babel's locale data)."""
    return "" if value is None else flask_babel.format_currency(value, currency)
