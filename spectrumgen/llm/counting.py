"""Every HTTP request an LLM call makes is counted, retries included.

The HTTP clients of the ollama and openai backends carry `HTTP_HOOKS`, which count each request
the current thread sends. A node wraps one call in `counting()`; when the call fails with a
transport error that the graph retries (LangGraph's RetryPolicy runs the node again), the node
hands the failed attempt's requests to `set_aside(key)`, and the attempt that finally succeeds
(or fails for good) adds them back with `take_back(key)`. An in-process model makes no HTTP
request: its call counts as one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

_current = threading.local()
_set_aside: dict[str, int] = {}
_lock = threading.Lock()


@dataclass
class Counted:
    """The HTTP requests sent inside one `counting()` block (at least 1: the call itself)."""

    sent: int = 0

    @property
    def requests(self) -> int:
        return max(1, self.sent)


def count_request(request: httpx.Request) -> None:
    """httpx event hook: one more request for the call this thread is making."""
    counted = getattr(_current, "counted", None)
    if counted is not None:
        counted.sent += 1


HTTP_HOOKS = {"request": [count_request]}


@contextmanager
def counting() -> Iterator[Counted]:
    """Count the HTTP requests this thread sends inside the block."""
    counted, outer = Counted(), getattr(_current, "counted", None)
    _current.counted = counted
    try:
        yield counted
    finally:
        _current.counted = outer


def set_aside(key: str, requests: int) -> None:
    """Keep a failed attempt's requests until the attempt that ends the call (same key)."""
    with _lock:
        _set_aside[key] = _set_aside.get(key, 0) + requests


def take_back(key: str) -> int:
    """The requests earlier attempts of this call set aside (0 if none)."""
    with _lock:
        return _set_aside.pop(key, 0)
