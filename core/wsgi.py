"""WSGI entry point for production: ``gunicorn 'core.wsgi:app'`` with
``KEEL_DATABASE_URL`` and ``KEEL_SECRET_KEY`` set."""
from .app import create_app
from .config import DEV_SECRET_KEY, load_config

config = load_config()
if config.secret_key == DEV_SECRET_KEY:
    raise RuntimeError("KEEL_SECRET_KEY is not set: the production server refuses the development "
                       "secret, which would let anyone forge sessions")
app = create_app(config)
