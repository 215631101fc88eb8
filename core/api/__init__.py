"""The REST API, ``/api/v1`` (CONTRACT.md §3)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app):
    app.register_blueprint(bp)
