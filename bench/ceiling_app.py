"""The ceiling for bench/load.py: a one-route Flask app answering a small JSON, served by gunicorn with the same
settings as the service, so that the service's figures can be read as a share of what this machine allows."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> dict[str, object]:
    return {"ok": True, "service": "ceiling"}
