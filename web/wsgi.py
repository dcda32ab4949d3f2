"""WSGI entry point: ``gunicorn web.wsgi:app``."""

from shared.config import load_config
from web import create_app

app = create_app(load_config())
