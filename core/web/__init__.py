"""The web UI: sign-in, the workbench, generated screens (CONTRACT.md §7)."""
from flask import Blueprint

bp = Blueprint("web", __name__)


def init_app(app):
    app.register_blueprint(bp)
