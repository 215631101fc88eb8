"""The user's profile page (language, time zone, the notification channels
they receive) and the language switch of the user menu (``POST /web/lang``).

The opt-outs are ``core.notification_pref`` rows of the user, written by
the notification service (``core.services.notify.set_preferences``) in the
same transaction as the language and time zone.

Both change only two fields of the signed-in user's own record. Writing
``core.user`` through the model API takes a role that may administer users
(who may change whose roles is a security matter), so a sales rep would be
refused; choosing one's own language is not a security matter. These two
fields of that one record are therefore written in the system context
(``env.sudo()``), still through the model API: the values are checked
(``lang`` must be an option, ``tz`` is a known time zone before that) and
the change goes to the audit log as a write of ``core.user`` by the user
themself, source ``web``. Nothing else of the record can be reached here.
"""
import pytz
from flask import redirect, render_template, request
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField
from wtforms.validators import Length, Optional, Regexp

from ..i18n import LANGUAGES, _
from ..services import notify
from . import bp
from .context import unit_of_work
from .i18n import DEFAULT_TIMEZONE, gettext
from .views import HOME, safe_next

PROFILE = "/web/profile"
#: the fields a user sets on their own record, whatever their roles
OWN_FIELDS = ("lang", "tz", "email")
#: each language named in itself, as a language menu does
LANGUAGE_NAMES = {"en": "English", "zh_CN": "简体中文"}


class ProfileForm(FlaskForm):
    lang = SelectField()
    tz = SelectField()
    # where e-mail notifications go (core/services/mail.py)
    email = EmailField(filters=[lambda v: v.strip() if isinstance(v, str) else v], validators=[Optional(), Length(max=200), Regexp(
        r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_("Enter an e-mail address such as name@example.com."))])


def profile_form(values=None):
    """The form, its choices in the request's language; ``values``: the
    user's current ``lang`` and ``tz`` (GET), none when posted."""
    form = ProfileForm(data=values)
    form.lang.choices = [("", gettext("The browser's language"))] + [
        (code, LANGUAGE_NAMES[code]) for code in LANGUAGES]
    form.tz.choices = [("", gettext("Default (%(tz)s)", tz=DEFAULT_TIMEZONE))] + [
        (name, name) for name in pytz.common_timezones]
    return form


def save_own(values, receive=None):
    """Write ``values`` (only ``OWN_FIELDS``) on the signed-in user's record
    and, with ``receive`` (the channel codes ticked), their notification
    opt-outs — in one transaction."""
    assert set(values) <= set(OWN_FIELDS), values
    with unit_of_work() as env:
        env.sudo()["core.user"].browse(env.uid).write(values)
        if receive is not None:
            choices = notify.channel_choices(env)
            notify.set_preferences(env, env.uid, {code: code in receive for code, _l in choices})


def channels(env):
    """``[(code, label, receives)]``: the opt-out checkboxes of the page."""
    receives = notify.preferences(env, env.uid)
    return [(code, label, receives.get(code, True)) for code, label in notify.channel_choices(env)]


@bp.route(PROFILE, methods=["GET", "POST"])
def profile():
    if request.method == "POST":
        form = profile_form()
        if form.validate():
            save_own({"lang": form.lang.data or None, "tz": form.tz.data or None,
                      "email": (form.email.data or "").strip() or None},
                     set(request.form.getlist("receive")))
            return redirect(PROFILE + "?saved=1")  # the next page in the chosen language
        with unit_of_work() as env:
            return render_template("web/profile.html", form=form, channels=channels(env)), 400
    with unit_of_work() as env:
        own = env.user_values()
        form = profile_form({name: own.get(name) or "" for name in OWN_FIELDS})
        return render_template("web/profile.html", form=form, channels=channels(env),
                               saved=request.args.get("saved") == "1")


@bp.post("/web/lang")
def switch_language():
    """The user menu's language buttons: store ``lang`` (en or zh_CN) and
    go back to ``next``, a path of this site (else the workbench)."""
    lang = request.form.get("lang")
    if lang not in LANGUAGES:
        return render_template("web/error.html", title=gettext("Bad request"),
                               message=gettext("Choose English or Chinese.")), 400
    save_own({"lang": lang})
    return redirect(safe_next(request.form.get("next")) or HOME)
