"""Helpers of the web UI tests: a Flask test client signed in as a user,
and the CSRF token of a page."""
import re

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html):
    """The CSRF token of the first form of ``html``."""
    found = _CSRF.search(html)
    assert found, "no csrf_token input on the page"
    return found.group(1) or found.group(2)


def sign_in(app, login, password, headers=None):
    """A test client of ``app`` signed in as ``login``."""
    client = app.test_client()
    page = client.get("/web/login", headers=headers or {})
    answer = client.post("/web/login", data={"login": login, "password": password,
                                             "csrf_token": csrf_token(page.get_data(as_text=True))},
                         headers=headers or {})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    return client


def post_form(client, url, data, headers=None):
    """POST ``data`` to ``url`` with the CSRF token of the page at ``url``
    (or of ``/web`` when ``url`` has no form)."""
    page = client.get(url, headers=headers or {})
    text = page.get_data(as_text=True)
    if 'name="csrf_token"' not in text:
        text = client.get("/web").get_data(as_text=True)
    return client.post(url, data={**data, "csrf_token": csrf_token(text)}, headers=headers or {})


def get(world, url, who="R1", status=200):
    """The text of ``url`` fetched by ``world["clients"][who]``, checking
    the status."""
    answer = world["clients"][who].get(url)
    assert answer.status_code == status, answer.get_data(as_text=True)[-1500:]
    return answer.get_data(as_text=True)
