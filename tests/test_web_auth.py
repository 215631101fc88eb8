"""Web sign-in (issue 3 point 8; CONTRACT.md §7): Flask-Login sessions in a
signed HttpOnly SameSite=Lax cookie, CSRF on every form, generic refusals,
lock-out, logout, sessions ended by deactivation or a new password, safe
``next``, English and Simplified Chinese pages. Flask's test client, plus
one run over real HTTP."""
import http.client
import http.cookiejar
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from core.app import create_app
from core.config import load_config
from core.security import auth

PASSWORD = "correct-horse-9"
REFUSED_EN = "Wrong login or password, or too many failed attempts. Please try again later."
REFUSED_ZH = "用户名或密码错误，或失败次数过多。请稍后再试。"


# -- helpers ----------------------------------------------------------------------------
class Page(HTMLParser):
    """The forms, inputs, buttons and asset links of an HTML page."""

    def __init__(self, text):
        super().__init__()
        self.forms, self.inputs, self.buttons, self.links, self.html_lang = [], [], [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "form":
            self.forms.append(a)
        elif tag == "input":
            self.inputs.append(a)
        elif tag == "button":
            self.buttons.append(a)
        if tag in ("link", "script", "img") and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src"))

    def input(self, name):
        found = [i for i in self.inputs if i.get("name") == name]
        assert found, (name, self.inputs)
        return found[0]


def csrf_of(text):
    return Page(text).input("csrf_token")["value"]


def make_user(db, login="alice", password=PASSWORD, name="Alice Chen", lang=None, active=True):
    with db.unit_of_work(None) as env:
        values = {"login": login, "name": name, "active": active}
        if lang:
            values["lang"] = lang
        uid = env["core.user"].create(values).id
        auth.set_password(env, uid, password)
    return uid


def write_user(db, uid, **values):
    with db.unit_of_work(None) as env:
        if "password" in values:
            auth.set_password(env, uid, values.pop("password"))
        if values:
            env["core.user"].browse(uid).write(values)


@pytest.fixture
def app(db, db_url):
    return create_app(load_config(environ={}, database_url=db_url), db=db)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def alice(db):
    return make_user(db)


def sign_in(client, login="alice", password=PASSWORD, next=None, headers=None):
    url = "/web/login" + (f"?next={urllib.parse.quote(next, safe='')}" if next is not None else "")
    token = csrf_of(client.get(url, headers=headers).get_data(as_text=True))
    data = {"login": login, "password": password, "csrf_token": token}
    return client.post(url, data=data, headers=headers)


def signed_in(client):
    response = client.get("/web")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.headers["Location"].startswith("/web/login")
    return False


def audit_entries(db, action):
    with db.unit_of_work(None) as env:
        t = env.registry["core.audit"].table
        return [dict(r) for r in env.conn.execute(
            sa.select(t).where(t.c.action == action).order_by(t.c.id)).mappings()]


# -- the form ---------------------------------------------------------------------------
def test_login_form_shape(client):
    response = client.get("/web/login")
    assert response.status_code == 200
    assert response.mimetype == "text/html" and response.mimetype_params["charset"] == "utf-8"
    page = Page(response.get_data(as_text=True))
    assert len(page.forms) == 1 and page.forms[0]["method"] == "post"
    assert page.input("login").get("type") == "text"
    assert page.input("password")["type"] == "password"
    assert page.input("password").get("value", "") == ""
    token = page.input("csrf_token")
    assert token["type"] == "hidden" and len(token["value"]) > 20
    assert [b for b in page.buttons if b.get("type") == "submit"]
    assert page.html_lang == "en"
    # no external asset: everything comes from this server
    assert page.links and all(link.startswith("/") and not link.startswith("//") for link in page.links)
    assert client.get(page.links[-1]).status_code == 200  # the stylesheet
    assert 'name="viewport"' in response.get_data(as_text=True)  # usable on a phone
    # no frame, no inline script, not cached
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"


def test_login_page_does_not_list_what_is_installed_to_strangers(client):
    assert "crm_base" not in client.get("/web/login").get_data(as_text=True)


def test_root_redirects_by_session(client, alice):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/web/login"
    sign_in(client)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/web"


# -- signing in -------------------------------------------------------------------------
def test_successful_login_lands_on_the_workbench(client, alice, db):
    response = sign_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/web"
    page = client.get("/web")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Alice Chen" in text and "crm_base" in text and "sales" in text
    parsed = Page(text)
    logout = [f for f in parsed.forms if f.get("action") == "/web/logout"]
    assert logout and logout[0]["method"] == "post"
    assert parsed.input("csrf_token")["value"]
    # a signed-in visitor of the login page goes to the workbench
    again = client.get("/web/login")
    assert again.status_code == 302 and again.headers["Location"] == "/web"
    [entry] = audit_entries(db, "login")
    assert entry["user_id"] == alice and entry["record_id"] == alice and entry["source"] == "web"


def test_refusals_are_generic(client, alice, db):
    make_user(db, "bob", active=False)
    bodies = []
    for login, password in [("alice", "wrong-password-1"), ("nobody", PASSWORD),
                            ("bob", PASSWORD), ("", ""), ("alice", "x" * 5000)]:
        response = sign_in(client, login, password)
        assert response.status_code == 401
        text = response.get_data(as_text=True)
        assert REFUSED_EN in text
        assert "wrong-password-1" not in text and PASSWORD not in text  # never sent back
        page = Page(text)
        assert page.input("login").get("value", "") == login  # the login is kept for a retry
        # the page without the tokens, the login given and where the cursor goes
        bodies.append(re.sub(r'value="[^"]*"| autofocus', "", text))
        assert not signed_in(client)
    assert len(set(bodies)) == 1  # the same page whatever the reason: no user enumeration
    failed = audit_entries(db, "login_failed")
    assert [e["user_id"] for e in failed[:3]] == [alice, None, failed[2]["user_id"]]
    assert failed[0]["changes"] == {"login": "alice"} and failed[0]["source"] == "web"


def test_csrf_less_posts_are_refused(app, client, alice):
    response = client.post("/web/login", data={"login": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert not signed_in(client)
    # a token of another session does not do either
    other = app.test_client()
    foreign = csrf_of(other.get("/web/login").get_data(as_text=True))
    client.get("/web/login")
    response = client.post("/web/login", data={"login": "alice", "password": PASSWORD,
                                               "csrf_token": foreign})
    assert response.status_code == 400 and not signed_in(client)
    # signed in, a forged logout is refused and the session lives on
    sign_in(client)
    assert client.post("/web/logout").status_code == 400
    assert client.post("/web/logout", data={"csrf_token": "forged"}).status_code == 400
    assert signed_in(client)


def test_the_api_is_exempt_from_csrf(client, alice):
    """Bearer tokens, no cookies: the API blueprint is not behind CSRF."""
    response = client.post("/api/v1/auth/token", json={"login": "alice", "password": PASSWORD})
    assert response.status_code != 400 and b"CSRF" not in response.data


def test_session_cookie_flags(app, client, alice):
    response = sign_in(client)
    [cookie] = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("keel_session=")]
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert "secure" not in flags  # http://127.0.0.1 by default
    assert any(f.startswith("expires=") for f in flags)  # permanent, 12 hours
    app.config["SESSION_COOKIE_SECURE"] = True
    secure = sign_in(app.test_client())
    [cookie] = [c for c in secure.headers.getlist("Set-Cookie") if c.startswith("keel_session=")]
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_the_cookie_holds_no_password_hash(app, client, alice, db):
    sign_in(client)
    stored = client.get_cookie("keel_session").value
    session = app.session_interface.get_signing_serializer(app).loads(stored)
    with db.unit_of_work(None) as env:
        password_hash = env.user_values() and env.conn.execute(
            sa.text("SELECT password_hash FROM core_user WHERE id = :id"), {"id": alice}).scalar()
    uid, _, token = session["_user_id"].partition(":")
    assert uid == str(alice) and token and token not in password_hash
    assert password_hash.split("$")[-1] not in stored


# -- signing out ------------------------------------------------------------------------
def test_logout_ends_the_session(client, alice, db):
    sign_in(client)
    # GET only asks: a link or image on another site cannot sign anyone out
    confirm = client.get("/web/logout")
    assert confirm.status_code == 200 and signed_in(client)
    token = Page(confirm.get_data(as_text=True)).input("csrf_token")["value"]
    response = client.post("/web/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/web/login"
    assert not signed_in(client)
    assert client.get("/").headers["Location"] == "/web/login"
    [entry] = audit_entries(db, "logout")
    assert entry["user_id"] == alice and entry["source"] == "web"
    # signed out already: the logout address just sends to the login page
    assert client.get("/web/logout").headers["Location"] == "/web/login"


def test_twenty_wrong_passwords_then_the_right_one_is_refused(client, alice):
    for i in range(20):
        assert sign_in(client, "alice", f"wrong-{i:04d}").status_code == 401
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 401
    assert REFUSED_EN in response.get_data(as_text=True)
    assert not signed_in(client)


def test_deactivating_a_user_ends_their_session(client, alice, db):
    sign_in(client)
    assert signed_in(client)
    write_user(db, alice, active=False)
    assert not signed_in(client)  # checked on every request, not at sign-in only
    assert client.get("/").headers["Location"] == "/web/login"
    assert sign_in(client).status_code == 401


def test_a_new_password_ends_existing_sessions(app, client, alice, db):
    sign_in(client)
    other = app.test_client()
    sign_in(other)
    write_user(db, alice, password="another-horse-7")
    assert not signed_in(client) and not signed_in(other)
    assert sign_in(client, "alice", "another-horse-7").headers["Location"] == "/web"
    assert signed_in(client)


def test_a_forged_or_foreign_session_is_refused(app, db, alice):
    client = app.test_client()
    sign_in(client)
    serializer = app.session_interface.get_signing_serializer(app)
    session = serializer.loads(client.get_cookie("keel_session").value)
    for forged in [f"{alice}:" + "0" * 32, f"{alice}", "1:abc", "x:y", ""]:
        session["_user_id"] = forged
        client.set_cookie("keel_session", serializer.dumps(session))
        assert not signed_in(client), forged
    # signed with another secret key: ignored
    stranger = create_app(load_config(environ={}, database_url=str(db.engine.url),
                                      secret_key="another-secret"), db=db)
    s2 = stranger.session_interface.get_signing_serializer(stranger)
    client.set_cookie("keel_session", s2.dumps({"_user_id": f"{alice}:" + "0" * 32}))
    assert not signed_in(client)


# -- where to go after signing in -------------------------------------------------------
def test_signed_out_visitors_of_any_web_page_go_to_login(client):
    for path in ["/web", "/web/crm.customer", "/web/crm.customer/1", "/web/no-such-page"]:
        response = client.get(path)
        assert response.status_code == 302, path
        location = urllib.parse.urlsplit(response.headers["Location"])
        assert location.path == "/web/login" and not location.netloc
        assert urllib.parse.parse_qs(location.query)["next"] == [path]
    assert client.get("/web/static/keel.css").status_code == 200


def test_next_is_honoured_when_it_is_a_path_here(client, alice):
    response = client.get("/web/crm.customer?q=%E5%8D%8E")
    login_url = response.headers["Location"]
    page = Page(client.get(login_url).get_data(as_text=True))
    target = page.input("next")["value"]
    assert urllib.parse.unquote(target) == "/web/crm.customer?q=华"
    landed = client.post("/web/login", data={"login": "alice", "password": PASSWORD, "next": target,
                                             "csrf_token": page.input("csrf_token")["value"]})
    assert urllib.parse.unquote(landed.headers["Location"]) == "/web/crm.customer?q=华"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "///evil.example", "/\\evil.example",
    "\\\\evil.example", "http:evil.example", "javascript:alert(1)", "/\t/evil.example",
    "/web\r\nSet-Cookie: x=1", "evil.example", " //evil.example"])
def test_next_open_redirect_is_refused(client, alice, target):
    response = sign_in(client, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/web"
    # nor through the form's hidden field
    client.post("/web/logout", data={"csrf_token": csrf_of(client.get("/web").get_data(as_text=True))})
    token = csrf_of(client.get("/web/login").get_data(as_text=True))
    response = client.post("/web/login", data={"login": "alice", "password": PASSWORD,
                                               "csrf_token": token, "next": target})
    assert response.headers["Location"] == "/web"


# -- languages --------------------------------------------------------------------------
def test_chinese_by_accept_language(client, alice, db):
    zh = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    response = client.get("/web/login", headers=zh)
    text = response.get_data(as_text=True)
    assert Page(text).html_lang == "zh-CN" and response.headers["Content-Language"] == "zh-CN"
    assert "登录" in text and "密码" in text and "Password" not in text
    refused = sign_in(client, "alice", "wrong-password-2", headers=zh)
    assert REFUSED_ZH in refused.get_data(as_text=True)
    sign_in(client, headers=zh)
    assert "欢迎" in client.get("/web", headers=zh).get_data(as_text=True)
    # English otherwise
    for header in [{}, {"Accept-Language": "en-US,en;q=0.9"}, {"Accept-Language": "fr-FR"}]:
        assert "Welcome" in client.get("/web", headers=header).get_data(as_text=True)


def test_the_users_language_beats_the_browsers(client, db):
    make_user(db, "wang", name="王伟", lang="zh_CN")
    sign_in(client, "wang")
    text = client.get("/web", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "欢迎，王伟" in text and 'lang="zh-CN"' in text


# -- over real HTTP ---------------------------------------------------------------------
@pytest.fixture
def server(app):
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(10)
    httpd.server_close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_sign_in_and_out_over_real_http(server, alice):
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    plain = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)

    # signed out: / and /web lead to the login page
    with browser.open(server + "/") as response:
        assert urllib.parse.urlsplit(response.url).path == "/web/login"
        page = Page(response.read().decode("utf-8"))
    token = page.input("csrf_token")["value"]
    assert page.input("login") and page.input("password")

    # CSRF-less post: 400
    with pytest.raises(urllib.error.HTTPError) as err:
        plain.open(server + "/web/login", urllib.parse.urlencode(
            {"login": "alice", "password": PASSWORD}).encode())
    assert err.value.code == 400

    # wrong password: 401 and the generic message
    with pytest.raises(urllib.error.HTTPError) as err:
        plain.open(server + "/web/login", urllib.parse.urlencode(
            {"login": "alice", "password": "nope-nope-1", "csrf_token": token}).encode())
    assert err.value.code == 401 and REFUSED_EN in err.value.read().decode("utf-8")

    # the right one: 302 to /web with the session cookie's flags
    with pytest.raises(urllib.error.HTTPError) as err:
        plain.open(server + "/web/login", urllib.parse.urlencode(
            {"login": "alice", "password": PASSWORD, "csrf_token": token}).encode())
    assert err.value.code == 302 and err.value.headers["Location"] == "/web"
    cookies = [c for c in err.value.headers.get_all("Set-Cookie") if c.startswith("keel_session=")]
    assert cookies and "HttpOnly" in cookies[-1] and "SameSite=Lax" in cookies[-1]
    with browser.open(server + "/web") as response:
        assert response.status == 200 and urllib.parse.urlsplit(response.url).path == "/web"
        text = response.read().decode("utf-8")
    assert "Alice Chen" in text

    # logout (POST with the token of the page) ends it
    token = Page(text).input("csrf_token")["value"]
    with browser.open(server + "/web/logout", urllib.parse.urlencode({"csrf_token": token}).encode()) as r:
        assert urllib.parse.urlsplit(r.url).path == "/web/login"
    with browser.open(server + "/web") as response:
        assert urllib.parse.urlsplit(response.url).path == "/web/login"

    # Chinese by the browser's language, over the wire (UTF-8)
    host = urllib.parse.urlsplit(server)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
    conn.request("GET", "/web/login", headers={"Accept-Language": "zh-CN"})
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "登录" in response.read().decode("utf-8")
    conn.close()


def test_a_copied_cookie_dies_with_the_session_it_came_from(app, client, alice):
    sign_in(client)
    thief = app.test_client()
    thief.set_cookie("keel_session", client.get_cookie("keel_session").value)
    assert signed_in(thief)
    token = Page(client.get("/web/logout").get_data(as_text=True)).input("csrf_token")["value"]
    client.post("/web/logout", data={"csrf_token": token})
    assert not signed_in(thief)


def test_reactivating_a_user_does_not_revive_old_sessions(client, alice, db):
    sign_in(client)
    old = client.get_cookie("keel_session").value
    write_user(db, alice, active=False)
    write_user(db, alice, active=True)
    client.set_cookie("keel_session", old)
    assert not signed_in(client)
    assert sign_in(client).headers["Location"] == "/web"  # a fresh sign-in works
