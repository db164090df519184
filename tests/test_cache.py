"""backend/cache.py: a process keeps what it built until another transaction announces a change."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backend import cache

NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)


class Builds:
    """A build function that counts its calls and returns what the 'data' is now."""

    def __init__(self) -> None:
        self.calls = 0
        self.data = "first"

    def __call__(self, _session: Session) -> str:
        self.calls += 1
        return self.data


def test_a_value_is_built_once_and_kept_while_nothing_changes(session: Session) -> None:
    build = Builds()
    assert cache.cached(session, "test-set", build, part="a") == "first"
    assert cache.cached(session, "test-set", build, part="a") == "first"
    assert build.calls == 1


def test_a_bump_makes_every_holder_rebuild(session: Session) -> None:
    build = Builds()
    cache.cached(session, "test-set", build, part="b")
    build.data = "second"
    cache.bump(session, "test-set", NOW)
    assert cache.cached(session, "test-set", build, part="b") == "second"
    assert build.calls == 2
    cache.bump(session, "test-set", NOW)  # a second change is a new version again
    assert cache.version(session, "test-set") != cache.NEVER_CHANGED
    build.data = "third"
    assert cache.cached(session, "test-set", build, part="b") == "third"


def test_parts_of_one_set_are_kept_apart_and_fall_together(session: Session) -> None:
    one, other = Builds(), Builds()
    other.data = "other"
    assert cache.cached(session, "test-set", one, part="one") == "first"
    assert cache.cached(session, "test-set", other, part="other") == "other"
    cache.bump(session, "test-set", NOW)
    cache.cached(session, "test-set", one, part="one")
    cache.cached(session, "test-set", other, part="other")
    assert (one.calls, other.calls) == (2, 2)


def test_a_rolled_back_change_is_never_taken_for_a_later_one(app) -> None:
    engine: Engine = app.extensions["db"].engine
    build = Builds()
    with Session(engine) as session:
        cache.cached(session, "test-rollback", build)
    with Session(engine) as session:  # a change built inside its own transaction, then rolled back
        build.data = "rolled back"
        cache.bump(session, "test-rollback", NOW)
        assert cache.cached(session, "test-rollback", build) == "rolled back"
        session.rollback()
    build.data = "first"
    with Session(engine) as session:  # back to the committed version: rebuilt from the committed data
        assert cache.cached(session, "test-rollback", build) == "first"
    with Session(engine) as session:  # a later committed change: a version the rolled-back one never had
        build.data = "committed"
        cache.bump(session, "test-rollback", NOW)
        session.commit()
    with Session(engine) as session:
        assert cache.cached(session, "test-rollback", build) == "committed"
    with Session(engine) as session:
        session.query(cache.CacheVersion).filter_by(name="test-rollback").delete()
        session.commit()


class BuildsFor:
    """A build function for one key: counts its calls, returns what the 'data' is now for that key."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.calls = 0

    def __call__(self, _session: Session) -> str:
        self.calls += 1
        return f"{self.key}-{self.calls}"


def test_answers_by_key_are_kept_until_a_bump(session: Session) -> None:
    one, two = BuildsFor("one"), BuildsFor("two")
    assert cache.cached_for(session, "test-set", "one", one, part="by-key") == "one-1"
    assert cache.cached_for(session, "test-set", "two", two, part="by-key") == "two-1"
    assert cache.cached_for(session, "test-set", "one", one, part="by-key") == "one-1"
    assert (one.calls, two.calls) == (1, 1)
    cache.bump(session, "test-set", NOW)
    assert cache.cached_for(session, "test-set", "one", one, part="by-key") == "one-2"


def test_only_the_keys_most_recently_asked_for_are_kept(session: Session) -> None:
    builds = {key: BuildsFor(key) for key in "abcd"}
    for key in "abc":
        cache.cached_for(session, "test-set", key, builds[key], part="lru", size=3)
    cache.cached_for(session, "test-set", "a", builds["a"], part="lru", size=3)  # a is the freshest now
    cache.cached_for(session, "test-set", "d", builds["d"], part="lru", size=3)  # b, the stalest, goes
    for key in "acdb":
        cache.cached_for(session, "test-set", key, builds[key], part="lru", size=3)
    assert {key: b.calls for key, b in builds.items()} == {"a": 1, "b": 2, "c": 1, "d": 1}


def test_what_a_build_raises_is_not_kept(session: Session) -> None:
    calls = []

    def refuses(_session: Session) -> str:
        calls.append(1)
        raise ValueError("no such town")

    for _ in range(2):
        with pytest.raises(ValueError, match="no such town"):
            cache.cached_for(session, "test-set", "x", refuses, part="raises")
    assert len(calls) == 2
