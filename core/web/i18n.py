"""The web UI's language and its texts.

Until Flask-Babel arrives (web UI issue) this is a tiny gettext: templates
and views write English text inside ``_("…")`` and :data:`CATALOG` holds
every translation, in one place. ``tests/test_web_auth.py`` checks that every
``_("…")`` of the templates and of this package has a Chinese entry, so a
string cannot slip through untranslated; moving to Babel is then extracting
the same ``_()`` calls and turning :data:`CATALOG` into ``.po`` files.

The language of a request: the signed-in user's ``lang`` if set, else the
browser's ``Accept-Language`` (Simplified Chinese or English), else English.
"""
from flask import g, has_request_context, request

#: languages of the UI: code as stored in ``core.user.lang`` -> HTML ``lang``
LANGUAGES = {"en": "en", "zh_CN": "zh-CN"}
DEFAULT = "en"

#: English text -> translation, per language (English is the source)
CATALOG = {
    "zh_CN": {
        "Sign in": "登录",
        "Login": "用户名",
        "Password": "密码",
        "Wrong login or password, or too many failed attempts. Please try again later.":
            "用户名或密码错误，或失败次数过多。请稍后再试。",
        "Your session has expired. Please try again.": "会话已过期，请重试。",
        "This database is not initialised yet: run keel init.": "数据库尚未初始化：请运行 keel init。",
        "Sign out": "退出登录",
        "Sign out of Keel?": "确定退出 Keel？",
        "Cancel": "取消",
        "Workbench": "工作台",
        "Welcome, %(name)s": "欢迎，%(name)s",
        "Signed in as %(login)s": "当前用户：%(login)s",
        "Edition": "版本",
        "Installed addons": "已安装的模块",
        "No addons installed.": "尚未安装模块。",
        "The generated screens arrive with the web UI; the command line (keel --help) works today.":
            "业务页面将随网页界面推出；现在可以使用命令行（keel --help）。",
        "Bad request": "请求无效",
        "The form could not be accepted. Reload the page and try again.": "表单无法提交，请刷新页面后重试。",
        "Page not found": "页面不存在",
        "Back to the workbench": "返回工作台",
    },
}


def best_language():
    """The language of the current request (cached on ``flask.g``)."""
    if not has_request_context():
        return DEFAULT
    lang = g.get("keel_lang")
    if lang is None:
        lang = _user_language() or _browser_language() or DEFAULT
        g.keel_lang = lang
    return lang


def _user_language():
    from flask_login import current_user
    lang = getattr(current_user, "lang", None) if current_user else None
    return lang if lang in LANGUAGES else None


def _browser_language():
    # werkzeug matches "zh", "zh-cn", "zh_CN", "zh-Hans-CN"… against these by
    # their primary tag when no exact match exists
    match = request.accept_languages.best_match(["en", "zh-CN"])
    return {"en": "en", "zh-CN": "zh_CN"}.get(match)


def gettext(text, **values):
    """``text`` in the request's language, with ``%(name)s`` placeholders
    filled from ``values`` (after translation)."""
    translated = CATALOG.get(best_language(), {}).get(text, text)
    return translated % values if values else translated


_ = gettext


def html_lang():
    return LANGUAGES[best_language()]
