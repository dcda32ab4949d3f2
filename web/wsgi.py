"""WSGI entry point: ``gunicorn web.wsgi:app``."""

from shared.config import load_config
from shared.logs import setup_logging
from web import create_app, hear_changes

config = load_config()
setup_logging(config, background=True)
app = create_app(config)
hear_changes(app)
