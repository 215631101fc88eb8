"""Internationalisation (issue 5 point 6): gettext catalogs of the kernel and
of each addon through Flask-Babel, found where Babel looks (``zh_Hans_CN``),
complete; the caller's language; locale formatting; Chinese search; the
profile page and the language switch."""
import configparser
import datetime as dt
import decimal
import pathlib
import re
import types

import pytest
import sqlalchemy as sa
from babel import Locale
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import render_template_string
from flask_login import login_user
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from core import i18n
from core.app import create_app
from core.config import load_config
from core.security import auth
from core.db import Database
from core.installer import Installer
from core.web import i18n as web_i18n
from tests.conftest import ADMIN_PASSWORD, PG_URL
from core.web.session import WebUser, read_user
from tests.conftest import drop_module_database, module_database
from tests.web_helpers import csrf_token, sign_in

ROOT = pathlib.Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-9"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


def catalog_sources():
    """``(directory whose texts are extracted, its translations directory)``:
    the kernel, then every addon of this distribution."""
    found = [(ROOT / "core", i18n.KERNEL_CATALOGS)]
    for init in sorted((ROOT / "addons").glob("*/__init__.py")):
        found.append((init.parent, init.parent / "translations"))
    return found


def read_catalog(directory, lang="zh_CN"):
    with open(i18n.catalog_path(directory, lang), "rb") as po:
        return read_po(po)


# -- catalogs ---------------------------------------------------------------------------
@pytest.mark.parametrize("source, translations", catalog_sources(),
                         ids=[s.name for s, _ in catalog_sources()])
def test_every_extracted_text_has_a_chinese_translation(source, translations):
    """What ``make messages`` would extract (babel.cfg) has a translation
    that is not fuzzy in this catalog: a new ``_("…")`` fails here, listed,
    until it is translated."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    texts = {m[0] if isinstance(m, tuple) else m
             for _, _, m, *_ in extract_from_dir(str(source), method_map, options_map)}
    catalog = read_catalog(translations)
    missing = sorted(t for t in texts if t and (t not in catalog or not catalog[t].string
                                                or catalog[t].fuzzy))
    assert texts and not missing, (
        f"{len(missing)} texts of {source.relative_to(ROOT)} lack a zh_CN translation: run "
        f"`make messages` and translate them in {i18n.catalog_path(translations, 'zh_CN').relative_to(ROOT)}:"
        "\n" + "\n".join(missing))


def test_catalogs_are_where_babel_looks():
    """Flask-Babel and gettext look for zh_CN under ``zh_Hans_CN`` (Babel's
    name of the locale): a directory made with ``-l zh_CN`` would be ignored
    without a word."""
    assert i18n.locale_directory("zh_CN") == "zh_Hans_CN"
    for _, translations in catalog_sources():
        names = {d.name for d in translations.iterdir() if d.is_dir()}
        assert "zh_Hans_CN" in names, translations
        assert all(str(Locale.parse(name)) == name for name in names), (translations, names)


def test_catalogs_are_shipped():
    """setup.cfg puts every catalog in the distribution (a wheel without
    them would show English only)."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    shipped = config["options.package_data"]
    for source, _ in catalog_sources():
        package = ".".join(source.relative_to(ROOT).parts)
        assert "translations/*/LC_MESSAGES/*.po" in shipped.get(package, "").split(), package


def test_catalogs_are_valid_and_agree():
    """Placeholders of every translation match their English text (a wrong
    one would raise at display), and a text in two catalogs reads the same
    in both (merged, one would silently win)."""
    seen = {}
    for _, translations in catalog_sources():
        catalog = read_catalog(translations)
        assert not [(m.id, errors) for m, errors in catalog.check()]
        for message in catalog:
            if message.id and message.string:
                first = seen.setdefault(message.id, message.string)
                assert first == message.string, (message.id, first, message.string)


def test_fuzzy_translations_are_not_used(tmp_path):
    po = tmp_path / "messages.po"
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "Customer"\nmsgstr "客户"\n\n#, fuzzy\nmsgid "Customers"\nmsgstr "客户们"\n',
                  "utf-8")
    compiled = i18n.compile_catalog(po)
    assert compiled.gettext("Customer") == "客户" and compiled.gettext("Customers") == "Customers"


def test_translate_reads_the_kernel_and_addon_catalogs():
    assert i18n.translate("Sign in", "zh_CN") == "登录"              # kernel (web UI)
    assert i18n.translate("Settings", "zh_CN") == "设置"             # kernel menu
    assert i18n.translate("Customer", "zh_CN") == "客户"             # crm_base
    assert i18n.translate("Opportunity", "zh_CN") == "商机"
    assert i18n.translate("In the lead pool", "zh_CN") == "在公海中"
    assert i18n.translate("Credit limit", "zh_CN") == "信用额度"     # sales
    assert i18n.translate("Customer", "en") == "Customer"
    assert i18n.translate("Never declared anywhere", "zh_CN") == "Never declared anywhere"
    assert i18n.translate("Customer", "fr") == "Customer"
    assert i18n.translate("", "zh_CN") == "" and i18n.translate(None, "zh_CN") is None


# -- the caller's language --------------------------------------------------------------
def accept(header):
    return parse_accept_header(header, LanguageAccept) if header is not None else None


@pytest.mark.parametrize("user_lang, header, expected", [
    ("zh_CN", "en", "zh_CN"), ("en", "zh-CN", "en"), (None, "zh-CN,zh;q=0.9", "zh_CN"),
    (None, "zh", "zh_CN"), (None, "zh-Hans-CN", "zh_CN"), (None, "en-US,en;q=0.9", "en"),
    (None, "zh-TW", "zh_CN"), (None, "zh_CN", "zh_CN"), (None, "en-GB,zh;q=0.8", "en"),
    (None, "fr-FR", "en"), (None, "fr-FR,zh;q=0.5", "zh_CN"), (None, "zh;q=0,en;q=0.1", "en"),
    (None, "*", "en"), (None, "", "en"), (None, None, "en"), ("", "zh-CN", "zh_CN"),
    ("xx", None, "en")])
def test_negotiate(user_lang, header, expected):
    assert i18n.negotiate(user_lang, accept(header)) == expected


API_CASES = [(user_lang, header) for user_lang in (None, "en", "zh_CN")
             for header in ("zh-CN", "zh", "en", "fr-FR,zh;q=0.5", "fr", "zh-Hans-CN", None)]


@pytest.mark.parametrize("user_lang, header", API_CASES)
def test_the_api_picks_the_same_language(world, user_lang, header):
    """CONTRACT.md §3 and §7 name one rule; core.api.http.language must keep it."""
    from core.api.http import language
    env = types.SimpleNamespace(user_values=lambda: {"lang": user_lang})
    headers = {"Accept-Language": header} if header else {}
    with world["app"].test_request_context("/api/v1/x", headers=headers):
        assert language(env) == i18n.negotiate(user_lang, accept(header))


# -- pages -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_i18n")
    url = db.engine.url.render_as_string(hide_password=False)
    app = create_app(load_config(environ={}, database_url=url), db=db)
    yield {"db": db, "app": app}
    drop_module_database(db, "t_i18n")


def make_user(world, login, lang=None, tz=None, roles=("sales_rep",)):
    with world["db"].unit_of_work(None) as env:
        role_ids = [env["core.role"].search([["code", "=", code]]).id for code in roles]
        uid = env["core.user"].create({"login": login, "name": login.title(), "lang": lang,
                                       "tz": tz, "roles": role_ids}).id
        auth.set_password(env, uid, PASSWORD)
    return uid


def user_row(world, uid):
    with world["db"].unit_of_work(None) as env:
        return env["core.user"].browse(uid).read(["name", "lang", "tz"])[0]


def html_lang(text):
    return re.search(r'<html lang="([^"]+)"', text).group(1)


def test_the_login_page_speaks_the_browsers_language(world):
    client = world["app"].test_client()
    zh = client.get("/web/login", headers=ZH).get_data(as_text=True)
    assert html_lang(zh) == "zh-CN" and "登录" in zh and "密码" in zh and "Sign in" not in zh
    en = client.get("/web/login", headers=EN).get_data(as_text=True)
    assert html_lang(en) == "en" and "Sign in" in en and "登录" not in en


def test_a_signed_in_page_speaks_the_users_language(world):
    make_user(world, "li", lang="zh_CN")
    text = sign_in(world["app"], "li", PASSWORD, EN).get("/web", headers=EN).get_data(as_text=True)
    assert html_lang(text) == "zh-CN" and "工作台" in text


# -- formatting --------------------------------------------------------------------------
MOMENT = dt.datetime(2026, 3, 5, 14, 30)  # naive UTC, as Keel stores datetimes


@pytest.mark.parametrize("headers, expected", [
    (ZH, ["2026年3月5日", "2026年3月5日 22:30", "1,234,567.891", "¥1,234.50", "-¥8.00"]),
    (EN, ["Mar 5, 2026", "Mar 5, 2026, 10:30\u202fPM", "1,234,567.891", "CN¥1,234.50", "-CN¥8.00"])])
def test_formatting_follows_the_language(world, headers, expected):
    """Dates, datetimes (UTC shown in Asia/Shanghai by default), numbers and
    CNY amounts as Babel's locale data writes them; as functions and as
    Jinja filters."""
    with world["app"].test_request_context("/web", headers=headers):
        assert [web_i18n.format_date(MOMENT.date()), web_i18n.format_datetime(MOMENT),
                web_i18n.format_number(1234567.891), web_i18n.format_money(decimal.Decimal("1234.5")),
                web_i18n.format_money(-8)] == expected
        rendered = render_template_string(
            "{{ d|format_date }}|{{ t|format_datetime }}|{{ n|format_number }}|{{ m|format_money }}",
            d=MOMENT.date(), t=MOMENT, n=1234567.891, m=decimal.Decimal("1234.5"))
        assert rendered.split("|") == expected[:4]
        assert [web_i18n.format_date(None), web_i18n.format_datetime(None),
                web_i18n.format_number(None), web_i18n.format_money(None)] == [""] * 4


def test_datetimes_show_in_the_users_time_zone(world):
    """A user's ``tz`` beats the default; the day of a datetime is the day
    where the user is (22:30 UTC is already the next day in Shanghai)."""
    late = dt.datetime(2026, 3, 5, 22, 30)
    paris = make_user(world, "pierre", lang="en", tz="Europe/Paris")
    unset = make_user(world, "wu", lang="zh_CN", tz="Not/AZone")
    app = world["app"]
    with app.test_request_context("/web"):
        login_user(WebUser(read_user(paris)))
        assert web_i18n.format_datetime(late) == "Mar 5, 2026, 11:30\u202fPM"
        assert web_i18n.format_date(late) == "Mar 5, 2026"
    with app.test_request_context("/web"):
        login_user(WebUser(read_user(unset)))  # an unknown zone: the default
        assert web_i18n.format_datetime(late) == "2026年3月6日 06:30"
        assert web_i18n.format_date(late) == "2026年3月6日"


# -- Chinese text in the database --------------------------------------------------------
def test_searching_chinese_text(world):
    with world["db"].unit_of_work("admin") as env:
        customers = env["crm.customer"]
        for name in ("上海明辉贸易有限公司", "北京明辉科技", "ABC科技（深圳）", "杭州西湖茶业"):
            customers.create({"name": name})

        def names(domain):
            return sorted(r["name"] for r in customers.search_read(domain, ["name"]))

        assert names([["name", "ilike", "%明辉%"]]) == ["上海明辉贸易有限公司", "北京明辉科技"]
        assert names([["name", "ilike", "abc科技%"]]) == ["ABC科技（深圳）"]
        assert names([["name", "ilike", "%（深圳）"]]) == ["ABC科技（深圳）"]
        assert names([["name", "like", "%西湖%"]]) == ["杭州西湖茶业"]
        assert names([["name", "=", "北京明辉科技"]]) == ["北京明辉科技"]


# -- profile and language switch ---------------------------------------------------------
def test_a_sales_rep_sets_their_language_and_time_zone(world):
    """A rep may not write core.user through the model API, yet sets their
    own language and time zone; the change is in the audit log as theirs."""
    uid = make_user(world, "zhao")
    client = sign_in(world["app"], "zhao", PASSWORD, EN)
    page = client.get("/web/profile", headers=EN).get_data(as_text=True)
    assert "My profile" in page and "简体中文" in page and "Asia/Shanghai" in page
    answer = client.post("/web/profile", headers=EN, data={
        "lang": "zh_CN", "tz": "Asia/Urumqi", "name": "Hacked", "csrf_token": csrf_token(page)})
    assert answer.status_code == 302 and answer.location.endswith("/web/profile?saved=1")
    assert user_row(world, uid) == {"id": uid, "name": "Zhao", "lang": "zh_CN", "tz": "Asia/Urumqi"}
    after = client.get(answer.location, headers=EN).get_data(as_text=True)
    assert html_lang(after) == "zh-CN" and "个人设置" in after and "已保存。" in after
    assert '<option selected value="Asia/Urumqi">' in after
    with world["db"].unit_of_work(None) as env:
        audit = env["core.audit"].search_read(
            [["model", "=", "core.user"], ["record_id", "=", uid], ["user_id", "=", uid],
             ["action", "=", "write"]], ["action", "source", "changes"])
    assert [(a["action"], a["source"]) for a in audit] == [("write", "web")]
    assert set(audit[0]["changes"]) == {"lang", "tz"}


def test_the_profile_refuses_an_unknown_time_zone_or_language(world):
    uid = make_user(world, "qian", lang="en")
    client = sign_in(world["app"], "qian", PASSWORD, EN)
    token = csrf_token(client.get("/web/profile").get_data(as_text=True))
    for data in ({"lang": "zh_CN", "tz": "Mars/Olympus"}, {"lang": "fr", "tz": ""}):
        answer = client.post("/web/profile", data={**data, "csrf_token": token})
        assert answer.status_code == 400
    assert user_row(world, uid)["lang"] == "en"
    # empty: back to the browser's language and the default zone
    answer = client.post("/web/profile", data={"lang": "", "tz": "", "csrf_token": token})
    assert answer.status_code == 302 and user_row(world, uid)["lang"] is None
    assert html_lang(client.get("/web", headers=ZH).get_data(as_text=True)) == "zh-CN"


def test_the_language_switch_makes_the_next_page_chinese(world):
    uid = make_user(world, "sun", lang="en")
    client = sign_in(world["app"], "sun", PASSWORD, EN)
    token = csrf_token(client.get("/web").get_data(as_text=True))
    answer = client.post("/web/lang", data={"lang": "zh_CN", "next": "/web/profile?x=1",
                                            "csrf_token": token})
    assert answer.status_code == 302 and answer.location == "/web/profile?x=1"
    text = client.get(answer.location, headers=EN).get_data(as_text=True)
    assert html_lang(text) == "zh-CN" and "个人设置" in text
    assert user_row(world, uid)["lang"] == "zh_CN"
    answer = client.post("/web/lang", data={"lang": "en", "next": "/web", "csrf_token": token})
    assert "Workbench" in client.get(answer.location, headers=ZH).get_data(as_text=True)


OFF_SITE = ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "",
            None]


@pytest.mark.parametrize("n", range(len(OFF_SITE)))
def test_the_language_switch_stays_on_this_site(world, n):
    target = OFF_SITE[n]
    make_user(world, f"zhou{n}")
    client = sign_in(world["app"], f"zhou{n}", PASSWORD)
    token = csrf_token(client.get("/web").get_data(as_text=True))
    data = {"lang": "zh_CN", "csrf_token": token, **({"next": target} if target is not None else {})}
    answer = client.post("/web/lang", data=data)
    assert answer.status_code == 302 and answer.location == "/web"


def test_the_language_switch_refuses_bad_posts(world):
    uid = make_user(world, "wang", lang="en")
    client = sign_in(world["app"], "wang", PASSWORD)
    token = csrf_token(client.get("/web").get_data(as_text=True))
    assert client.post("/web/lang", data={"lang": "fr", "csrf_token": token}).status_code == 400
    assert client.post("/web/lang", data={"lang": "zh_CN"}).status_code == 400  # no CSRF token
    assert client.get("/web/lang").status_code in (404, 405)
    assert user_row(world, uid)["lang"] == "en"
    anonymous = world["app"].test_client().post("/web/lang", data={"lang": "zh_CN"})
    assert anonymous.status_code == 400


@pytest.mark.skipif(not PG_URL, reason="the ICU collation of docs/i18n.md is PostgreSQL's")
def test_a_chinese_postgresql_database_sorts_names_by_pinyin():
    """docs/i18n.md: a database created with the ICU Chinese collation orders
    every text by pinyin, through the ordinary indexes (Latin names after)."""
    name = "keel_test_pinyin"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
                             "LOCALE_PROVIDER icu ICU_LOCALE 'zh' LOCALE 'C.UTF-8'")
    db = Database(sa.make_url(PG_URL).set(database=name))
    try:
        with db.transaction() as conn:
            Installer(db, conn).init(["crm_base"], ADMIN_PASSWORD, False)
        with db.unit_of_work("admin") as env:
            env["crm.customer"].create([{"name": n} for n in ("张三", "Acme", "李四", "阿里", "北京")])
            rows = env["crm.customer"].search_read([], ["name"], order="name")
        assert [r["name"] for r in rows] == ["阿里", "北京", "李四", "张三", "Acme"]
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()
