"""WSGI entry point for production: ``gunicorn 'core.wsgi:app'`` with
``KEEL_DATABASE_URL`` set."""
from .app import create_app

app = create_app()
