"""The WSGI entry for gunicorn: `gunicorn --preload backend.wsgi:app` builds the app and the bot once,
before the workers fork, so they share its memory."""

from backend import create_app
from backend.chat.loader import prepare_for_fork

app = create_app()
prepare_for_fork(app)
