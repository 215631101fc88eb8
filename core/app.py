"""The web application factory. Nothing happens at import time.

The web UI (``core.web``: sign-in, workbench, sessions, CSRF) and the REST
API (``core.api``, bearer tokens, exempt from CSRF) are blueprints.
"""
import os

from flask import Flask

from .config import load_config
from .db import Database


def create_app(config=None, db=None):
    config = config or load_config()
    # root_path: this package, never the working directory (whose
    # ./templates or ./static must not leak into the app); templates and
    # static files are the blueprints' own
    app = Flask("keel", root_path=os.path.dirname(os.path.abspath(__file__)),
                static_folder=None, template_folder=None)
    app.config["SECRET_KEY"] = config.secret_key
    app.extensions["keel.db"] = db or Database(config.database_url)
    app.extensions["keel.config"] = config
    # larger bodies are refused with 413: the largest file (max_upload_mb) and the form around it
    app.config["MAX_CONTENT_LENGTH"] = (config.max_upload_mb + 8) * 1024 * 1024
    from . import api, web
    web.init_app(app, csrf_exempt=[api.bp])
    api.init_app(app)
    return app
