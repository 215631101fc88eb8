"""The web application factory. Nothing happens at import time.

Until the web UI lands this serves a minimal page: ``/`` sends visitors to
``/web/login``, which says what is installed.
"""
from flask import Flask, redirect, render_template_string

from . import __version__
from .config import load_config
from .db import Database

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keel</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem}li{margin:.2rem 0}</style></head>
<body><h1>Keel {{ version }}</h1>
<p>Edition <b>{{ edition or "—" }}</b> · {{ addons|length }} addons installed:</p>
<ul>{% for a in addons %}<li><code>{{ a.name }}</code> {{ a.version }}</li>{% endfor %}</ul>
<p>Sign-in and the generated screens arrive with the web UI; the command line
(<code>keel --help</code>) works today.</p>
<p lang="zh-CN">Keel 已运行。网页界面即将推出；现在可以使用命令行 <code>keel --help</code>。</p>
</body></html>"""


def create_app(config=None, db=None):
    config = config or load_config()
    app = Flask("keel")
    app.config["SECRET_KEY"] = config.secret_key
    app.extensions["keel.db"] = db or Database(config.database_url)
    app.extensions["keel.config"] = config
    from . import api, web
    web.init_app(app)
    api.init_app(app)

    @app.get("/")
    def index():
        return redirect("/web/login")

    @app.get("/web/login")
    def login():
        database = app.extensions["keel.db"]
        with database.transaction() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, addon_version AS version FROM core_addon WHERE state = 'installed' ORDER BY name").all()
            edition = database.get_meta(conn, "edition")
        return render_template_string(PAGE, version=__version__, edition=edition, addons=rows)

    return app
