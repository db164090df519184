"""Where conversations are kept between messages: Redis with a time-out, or this process's memory."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from redis import Redis


class ConversationStore:
    """Load and save a conversation's state by key. With Redis every web process shares it; without Redis
    (the embedded default: one process) a dict with expiry times does."""

    def __init__(self, redis: Redis | None, ttl_seconds: int, prefix: str = "qingpu:chat:") -> None:
        self.redis = redis
        self.ttl = ttl_seconds
        self.prefix = prefix
        self._memory: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def load(self, key: str) -> dict[str, Any]:
        if self.redis is not None:
            raw = self.redis.get(self.prefix + key)
            return json.loads(raw) if raw else {}
        with self._lock:
            expires, raw = self._memory.get(key, (0.0, ""))
            return json.loads(raw) if raw and expires > time.monotonic() else {}

    def save(self, key: str, state: dict[str, Any]) -> None:
        raw = json.dumps(state, ensure_ascii=False)
        if self.redis is not None:
            self.redis.set(self.prefix + key, raw, ex=self.ttl)
            return
        with self._lock:
            now = time.monotonic()
            self._memory = {k: v for k, v in self._memory.items() if v[0] > now}
            self._memory[key] = (now + self.ttl, raw)

    def first_time(self, key: str, ttl_seconds: int) -> bool:
        """True the first time `key` is seen within `ttl_seconds` (WeChat retries, replayed nonces)."""
        if self.redis is not None:
            return bool(self.redis.set(self.prefix + "seen:" + key, "1", nx=True, ex=ttl_seconds))
        with self._lock:
            now = time.monotonic()
            seen_key = "seen:" + key
            expires, _ = self._memory.get(seen_key, (0.0, ""))
            if expires > now:
                return False
            self._memory[seen_key] = (now + ttl_seconds, "1")
            return True

    def forget(self, key: str) -> None:
        if self.redis is not None:
            self.redis.delete(self.prefix + "seen:" + key)
            return
        with self._lock:
            self._memory.pop("seen:" + key, None)
