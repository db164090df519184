"""The WSGI entry for gunicorn: `gunicorn --preload backend.wsgi:app` builds the app and the bot once,
before the workers fork, so they share its memory."""

from backend import create_app
from backend.chat.nlu import current_nlu

app = create_app()
with app.app_context():
    current_nlu()
app.extensions["db"].engine.dispose()  # the workers forked from here open their own connections
