"""Chat fixtures: a test client whose app talks through the stand-in bot (tests/support/fake_nlu.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.fake_nlu import FakeNlu


@pytest.fixture
def chat_client(app: Flask, client: FlaskClient) -> Iterator[FlaskClient]:
    app.extensions["nlu"] = FakeNlu()
    yield client
    del app.extensions["nlu"]
