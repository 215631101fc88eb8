"""Progress of long imports (issue 6 point 3): the service reports the
checking and the writing through a callback; ``keel import`` shows it on a
terminal only; the web screen imports a large file in the background — one
transaction, all or nothing — and its page follows the progress, then shows
the result or the bad rows with their download.
"""
import io
import re
import time
import types

import pytest

from core.services import imports
from core.web import imports as web_imports
from tests.conftest import ADMIN_PASSWORD
from tests.test_api_security import make_app
from tests.test_import import count, csv_bytes
from tests.web_helpers import csrf_token, sign_in


def rows(n, bad_line=None):
    out = [["名称", "电话", "城市"]]
    for i in range(n):
        out.append([f"客户{i:05d}", f"139{i:08d}", "上海"])
    if bad_line is not None:
        out[bad_line - 1][1] = "12x"
    return out


def test_progress_callback_counts_both_phases(db):
    seen = []
    with db.unit_of_work("admin") as env:
        result = imports.run(env, "crm.customer", csv_bytes(rows(2500)), "c.csv", batch=1000,
                             progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert result.created == 2500
    check = [(d, t) for p, d, t in seen if p == "check"]
    write = [(d, t) for p, d, t in seen if p == "write"]
    assert check == [(0, 2500), (1000, 2500), (2000, 2500), (2500, 2500)]
    assert write == [(0, 2500), (1000, 2500), (2000, 2500), (2500, 2500)]
    assert [p for p, _d, _t in seen].index("write") > len(check) - 1  # checking first, then writing
    seen.clear()
    with db.unit_of_work("admin") as env:  # a dry run checks only
        imports.run(env, "crm.customer", csv_bytes(rows(30)), "c.csv", dry_run=True,
                    progress=lambda *args: seen.append(args))
    assert seen == [("check", 0, 30), ("check", 30, 30)]
    seen.clear()
    with db.unit_of_work("admin") as env, pytest.raises(imports.ImportFailed):  # bad rows: no writing
        imports.run(env, "crm.customer", csv_bytes(rows(30, bad_line=7)), "c.csv",
                    progress=lambda *args: seen.append(args))
    assert {p for p, _d, _t in seen} == {"check"}
    assert count(db) == 2500


def test_cli_progress_only_on_a_terminal(db, db_url, tmp_path, capsys, monkeypatch):
    from core.cli import main
    from core.cli_data import ProgressLine
    path = tmp_path / "c.csv"
    path.write_bytes(csv_bytes(rows(50)))
    assert main(["--db", db_url, "import", "crm.customer", str(path), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "would import 50" in out  # not a terminal: nothing extra
    stream = io.StringIO()
    line = ProgressLine(stream, [None], every=None)
    for phase, done in (("check", 0), ("check", 1), ("check", 50), ("check", 100), ("write", 0),
                        ("write", 100)):
        line(phase, done, 100)
    line.close()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, rewritten with \r
    shown = [part.strip() for part in text.strip().split("\r") if part.strip()]
    assert shown == ["checking 0% (0/100 rows)", "checking 1% (1/100 rows)", "checking 50% (50/100 rows)",
                     "checking 100% (100/100 rows)", "writing 0% (0/100 rows)",
                     "writing 100% (100/100 rows)"]
    stream = io.StringIO()
    zh = {"writing %(pct)s%% (%(done)s/%(total)s rows)": "正在写入 %(pct)s%%（%(done)s/%(total)s 行）"}
    monkeypatch.setattr("core.services.imports.report.translate", lambda text, lang: zh.get(text, text))
    ProgressLine(stream, ["zh_CN"])("write", 5, 10)  # in --user's language
    assert stream.getvalue() == "\r正在写入 50%（5/10 行）"
    monkeypatch.undo()
    # on a terminal the CLI shows it on stderr
    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert main(["--db", db_url, "import", "crm.customer", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "checking 100% (50/50 rows)" in err and "writing 100% (50/50 rows)" in err
    assert "imported 50" in out


# -- the web screen ------------------------------------------------------------------------
def _upload_and_confirm(client, data):
    page = client.get("/web/crm.customer/import")
    answer = client.post("/web/crm.customer/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "file": (io.BytesIO(data), "大文件.csv"),
        "action": "preview", "on_duplicate": "error"})
    html = answer.get_data(as_text=True)
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    answer = client.post("/web/crm.customer/import", data={
        "csrf_token": csrf_token(html), "upload": token, "action": "confirm", "on_duplicate": "error"})
    return answer, token


def _wait(client, token, seconds=120):
    url = f"/web/crm.customer/import/status?upload={token}"
    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        page = client.get(url)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        state = re.search(r'data-state="(\w+)"', html).group(1)
        seen.append(state)
        if state != "running":
            return html, seen
        assert '<meta http-equiv="refresh"' in html and "import_progress.js" in html
        progress = client.get(f"/web/crm.customer/import/progress?upload={token}").get_json()
        assert progress["state"] in ("running", "done", "failed", "error") and 0 <= progress["percent"] <= 100
        time.sleep(0.05)
    raise AssertionError("the background import did not end")


def test_large_web_import_runs_in_the_background(db):
    client = sign_in(make_app(db), "admin", ADMIN_PASSWORD)
    answer, token = _upload_and_confirm(client, csv_bytes(rows(web_imports.BACKGROUND_ROWS + 500)))
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/web/crm.customer/import/status?upload={token}")
    html, seen = _wait(client, token)
    assert seen[-1] == "done"
    assert "Imported 2500 records (created 2500, updated 0, skipped 0)." in html
    assert count(db) == 2500
    with db.unit_of_work("admin") as env:  # as the user, through the model API: audited
        entry = env["core.audit"].search_read([["action", "=", "import"]], ["user_id", "changes"])
        assert len(entry) == 1 and entry[0]["changes"]["created"] == 2500
    # the result survives a reload; another user does not see it
    assert client.get(f"/web/crm.customer/import/status?upload={token}").status_code == 200
    assert client.get(f"/web/crm.customer/import/progress?upload={token}").get_json()["state"] == "done"
    small, _token = _upload_and_confirm(client, csv_bytes(rows(3)[:1] + [["小客户", "13912345678", "杭州"]]))
    assert small.status_code == 302 and count(db) == 2501  # a small file stays inline


def test_large_web_import_with_a_bad_row_writes_nothing(db):
    with db.unit_of_work("admin") as env:
        env["core.user"].search([["login", "=", "admin"]]).write({"lang": "zh_CN"})
    client = sign_in(make_app(db), "admin", ADMIN_PASSWORD)
    data = csv_bytes(rows(web_imports.BACKGROUND_ROWS + 100, bad_line=2050))
    page = client.get("/web/crm.customer/import")
    html = client.post("/web/crm.customer/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "file": (io.BytesIO(data), "坏.csv"),
        "action": "preview", "on_duplicate": "error"}).get_data(as_text=True)
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    # forced past the preview (e.g. the data changed meanwhile): refused in the background
    answer = client.post("/web/crm.customer/import", data={
        "csrf_token": csrf_token(html), "upload": token, "action": "confirm", "on_duplicate": "error"})
    assert answer.status_code == 303
    html, seen = _wait(client, token)
    assert seen[-1] == "failed" and count(db) == 0
    assert "<td>2050</td>" in html and "不是电话号码" in html  # the reason in the page's language
    rejects = client.get(f"/web/crm.customer/import/rejects?upload={token}")
    lines = rejects.get_data().decode("utf-8").splitlines()
    assert len(lines) == 2 and lines[1].startswith("客户02048,12x,上海,")


def test_a_rollback_in_the_writing_phase_writes_nothing(db, monkeypatch):
    """A failure while writing (after some batches went in) leaves nothing."""
    calls = []
    real = imports.run_module._guarded

    def failing(env, chunk, do, plan, result):
        calls.append(len(chunk))
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(env, chunk, do, plan, result)
    monkeypatch.setattr(imports.run_module, "_guarded", failing)
    client = sign_in(make_app(db), "admin", ADMIN_PASSWORD)
    answer, token = _upload_and_confirm(client, csv_bytes(rows(web_imports.BACKGROUND_ROWS + 500)))
    html, seen = _wait(client, token)
    assert seen[-1] == "error" and "nothing was imported" in html
    assert calls[:2] == [1000, 1000] and count(db) == 0


def test_an_interrupted_import_says_so(db):
    client = sign_in(make_app(db), "admin", ADMIN_PASSWORD)
    page = client.get("/web/crm.customer/import")
    html = client.post("/web/crm.customer/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "file": (io.BytesIO(csv_bytes(rows(3))), "a.csv"),
        "action": "preview", "on_duplicate": "error"}).get_data(as_text=True)
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    meta = next(web_imports._folder().glob(f"*-{token}.json"))
    import json
    import os
    stored = json.loads(meta.read_text(encoding="utf-8"))
    stored["job"] = {"state": "running", "phase": "write", "done": 1, "total": 3, "token": token,
                     "host": __import__("socket").gethostname(), "pid": os.getpid(), "updated": time.time()}
    meta.write_text(json.dumps(stored), encoding="utf-8")
    html = client.get(f"/web/crm.customer/import/status?upload={token}").get_data(as_text=True)
    assert 'data-state="interrupted"' in html and "nothing was imported" in html
    assert client.get("/web/crm.customer/import/status?upload=nope").status_code == 404


def test_a_run_ending_while_its_page_is_read_shows_its_outcome(db, monkeypatch):
    """The page read "running" just before the thread saved its outcome and
    went: the outcome on disk is shown, not "interrupted"."""
    import json
    import os
    client = sign_in(make_app(db), "admin", ADMIN_PASSWORD)
    page = client.get("/web/crm.customer/import")
    html = client.post("/web/crm.customer/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "file": (io.BytesIO(csv_bytes(rows(3))), "a.csv"),
        "action": "preview", "on_duplicate": "error"}).get_data(as_text=True)
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    meta = next(web_imports._folder().glob(f"*-{token}.json"))
    stored = json.loads(meta.read_text(encoding="utf-8"))
    running = {"state": "running", "phase": "write", "done": 2, "total": 3, "token": token,
               "host": __import__("socket").gethostname(), "pid": os.getpid(), "updated": time.time()}
    meta.write_text(json.dumps({**stored, "job": {**running, "state": "error", "message": "磁盘已满"}}),
                    encoding="utf-8")
    uid = int(meta.name.split("-", 1)[0])  # the upload's owner: its files are named after them
    monkeypatch.setattr(web_imports, "current_user", types.SimpleNamespace(id=uid))
    stale = {**stored, "job": dict(running)}
    assert web_imports._job_state(stale) == "error" and stale["job"]["message"] == "磁盘已满"
