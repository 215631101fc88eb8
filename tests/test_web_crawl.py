"""Every menu entry of the web UI, crawled in Simplified Chinese as the
admin and as a sales rep (issue 5 "Show"), with Flask's test client.

The crawl: the workbench and the links of its menus (in ``<nav>`` and the
top bar's ``<header>``: the user menu's profile too), then from each
menu page the links it shows to the same model's other views
(``?view=kanban|calendar|pivot|graph``), to its new form and to its first
record. Every one must answer 200: a link the UI shows must work, so no 4xx
and no 5xx.

"Untranslated", the rule of :func:`untranslated`: the visible text of a
page is its text nodes outside ``<script>``, ``<style>``, ``<template>``,
``<textarea>`` and the technical ``<code>``, ``<kbd>``, ``<samp>``, plus the
``placeholder``, ``title`` and ``aria-label`` attributes (input values are
data and not read). A piece of it, trimmed of
blanks and of a trailing ``:`` or ``*``, is untranslated when

1. it equals an English msgid of the zh_CN catalogs whose translation
   differs (a known text shown in English), or
2. it holds an English word — two ASCII letters or more — that is not data.

Never flagged: data — a piece equal to a name or code of the users,
departments and roles the test made or of an addon (the test's records are
in Chinese) — and in rule 2 the words of those, technical
names, e-mails and paths (a token with ``.``, ``_``, ``@`` or ``/`` between
letters, e.g. ``crm.customer``), command options (``--help``), acronyms
(``CSV``), the product's name ``Keel`` (``keel`` the command) and
``English``, the name of that language in the language switch.
"""
import pathlib
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.messages.pofile import read_po

from core.addons import discover
from tests.conftest import ADMIN_PASSWORD, drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import sign_in

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOT_PAGES = ("/web/login", "/web/logout", "/web/static/")
#: words Chinese screens keep as they are: the product's name, the name of a
#: language in itself, and "Webhook" (as WeCom, DingTalk and Feishu write it)
ALWAYS_ALLOWED = {"keel", "english", "webhook"}


class Text(HTMLParser):
    """The visible text pieces and the links of an HTML page."""
    NOT_READ = {"script", "style", "template", "textarea", "code", "kbd", "samp"}
    SHOWN_ATTRIBUTES = ("placeholder", "title", "aria-label")
    MENUS = {"nav", "header"}  # the menus, the top bar's user menu

    def __init__(self, html):
        super().__init__()
        self.pieces, self.links, self.menu_links, self._skip, self._menu = [], [], [], 0, 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self._skip += tag in self.NOT_READ
        self._menu += tag in self.MENUS
        self.pieces += [a[k] for k in self.SHOWN_ATTRIBUTES if a.get(k)]
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
            if self._menu:
                self.menu_links.append(a["href"])

    def handle_endtag(self, tag):
        self._skip -= tag in self.NOT_READ and self._skip > 0
        self._menu -= tag in self.MENUS and self._menu > 0

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.pieces.append(data)


def zh_catalog():
    """English msgid → Chinese, from every zh_CN catalog of the kernel and
    the addons, where the translation differs from the English."""
    found = {}
    files = [p for top in ("core", "addons") for p in (ROOT / top).rglob("zh*/LC_MESSAGES/*.po")]
    for path in files:
        with path.open("rb") as f:
            for message in read_po(f):
                msgid = message.id[0] if isinstance(message.id, tuple) else message.id
                msgstr = message.string[0] if isinstance(message.string, tuple) else message.string
                if msgid and msgstr and msgstr != msgid:
                    found[msgid] = msgstr
    return found


def untranslated(pieces, catalog, data):
    """The pieces of visible text breaking the rule of the module docstring;
    ``data``: the texts the test stored (a piece equal to one is data)."""
    data_words = {w for text in data for w in re.findall(r"[A-Za-z]{2,}", text)}
    bad = []
    for piece in pieces:
        text = " ".join(piece.split()).rstrip(":*：").strip()
        if text in data:
            continue
        if text in catalog:
            bad.append(text)
            continue
        for token in re.findall(r"[!-~]+", text):
            if token.startswith("-") or re.search(r"[A-Za-z][._@/][A-Za-z0-9]", token):
                continue
            words = re.findall(r"[A-Za-z]{2,}", token)
            if any(w not in data_words and w.lower() not in ALWAYS_ALLOWED and not w.isupper()
                   for w in words):
                bad.append(text)
                break
    return bad


def test_the_rule_flags_english_and_spares_data():
    catalog = {"Customers": "客户", "Administrator": "管理员"}
    data = {"Administrator", "Acme Ltd"}  # a user's name, a customer's
    pieces = ["Customers", " 客户 ", "Save changes", "crm.customer", "li@example.com", "CSV",
              "王芳", "Administrator", "Keel", "keel --help", "C2026-00001", "¥88,000.00", "Total: 3",
              "客户 (Draft)", "Acme Ltd."]
    assert untranslated(pieces, catalog, data) == ["Customers", "Save changes", "Total: 3", "客户 (Draft)"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """crm_base and sales, the personas, a customer of r1 with a contact, a
    follow-up and an opportunity; admin and r1 prefer Chinese."""
    db = module_database(tmp_path_factory, "t_web_crawl")
    users = create_personas(db)
    with db.unit_of_work(users["R1"]) as env:
        customer = env["crm.customer"].create({"name": "华南五金有限公司", "city": "广州",
                                               "contact_ids": [{"name": "李娜"}]}).id
        env["crm.interaction"].create({"customer_id": customer, "summary": "上门拜访，介绍新品"})
        env["crm.opportunity"].create({"name": "五金批量采购", "customer_id": customer,
                                       "amount": "120000"})
    with db.unit_of_work(None) as env:
        env["core.user"].search([["login", "in", ["admin", "r1"]]]).write({"lang": "zh_CN"})
        data = {row[key] for model, keys in (("core.user", ("login", "name")),
                                             ("core.department", ("code", "name")))
                for row in env[model].search_read([], keys) for key in keys}
    data |= {"Buyer", "purchaser"} | set(discover())  # create_personas's role; addon names
    yield make_app(db), data
    drop_module_database(db, "t_web_crawl")


def pages_to_visit(client):
    """The workbench and its menu entries, then the views, new form and
    first record each menu page links to, in crawl order."""
    menu = [href for href in Text(client.get("/web").get_data(as_text=True)).menu_links
            if href.startswith("/web/") and not href.startswith(NOT_PAGES)]
    assert menu, "no menu entry on the workbench"
    pages = ["/web", *dict.fromkeys(menu)]
    for href in menu:
        base = urlsplit(href).path
        links = Text(client.get(href).get_data(as_text=True)).links
        for link in links:
            parts = urlsplit(link)
            if (parts.path == base and "view" in parse_qs(parts.query)) or parts.path == base + "/new":
                pages.append(link)
        records = [link for link in links if re.fullmatch(re.escape(base) + r"/\d+", urlsplit(link).path)]
        pages += records[:1]
    return menu, list(dict.fromkeys(pages))


@pytest.mark.parametrize("login, password", [("admin", ADMIN_PASSWORD), ("r1", PASSWORD)],
                         ids=["admin", "rep"])
def test_every_page_of_the_menus_works_in_chinese(world, login, password):
    app, data = world
    catalog = zh_catalog()
    assert len(catalog) > 100, "the zh_CN catalogs are missing or nearly empty"
    client = sign_in(app, login, password)
    menu, pages = pages_to_visit(client)
    assert any(p.startswith("/web/crm.customer") for p in menu)
    failures = {}
    for url in pages:
        response = client.get(url)
        html = response.get_data(as_text=True)
        if response.status_code != 200:
            failures[url] = response.status_code
        elif 'lang="zh-CN"' not in html:
            failures[url] = "not in Chinese"
        elif bad := untranslated(Text(html).pieces, catalog, data):
            failures[url] = sorted(set(bad))
    assert not failures, "\n".join(f"{url}: {problem}" for url, problem in failures.items())
