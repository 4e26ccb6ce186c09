"""Loopback HTTP servers that speak Ollama's and OpenAI's chat protocols, for backend tests.

Replies are written by the scripted model (it reads the scenarios from the prompt), so the real
clients (langchain-ollama, langchain-openai) and the whole graph run against a real socket. Each
server records what it was sent and can misbehave on request: fail with an HTTP status, cut a
reply off at its token limit, wrap it in think tags and code fences, or answer slowly.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from spectrumgen.llm.scripted import FAULT_KINDS, ScriptedChatModel
from spectrumgen.llm.tokens import estimate_tokens


@dataclass
class Behaviour:
    """How the server answers; tests change it while it runs."""

    models: set[str] = field(default_factory=lambda: {"qwen3:8b"})
    fail_statuses: list[int] = field(default_factory=list)  # consumed one per chat request
    truncate_first: int = 0  # this many chat replies are cut off (done_reason "length")
    wrap: bool = False  # think tags and code fences around the JSON
    delay_seconds: float = 0.0
    report_usage: bool = True
    down: bool = False  # drop every connection unanswered, as a server that went away
    down_after: int | None = None  # go down after this many chat requests
    # A noisy model, seeded: a share of items broken, of calls failed with HTTP 500, of replies
    # cut off at the token limit.
    item_fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    error_rate: float = 0.0
    truncate_rate: float = 0.0
    seed: int = 0
    # The first `gather` chat requests are held until that many are in flight together (or 10 s
    # pass): `gathered` says whether they ever were, without timing anything.
    gather: int = 0
    gathered: bool | None = None
    # The first chat request is held until `hold_first_for` later ones were answered (or 10 s
    # pass): `overtaken` says whether they were, without timing anything.
    hold_first_for: int = 0
    overtaken: bool | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.rng.seed(self.seed)
        self._barrier = threading.Barrier(self.gather, timeout=10) if self.gather else None
        self._answered = threading.Semaphore(0)

    def hold_if_first(self, number: int) -> None:
        """Hold the first chat request until `hold_first_for` others were answered."""
        if not self.hold_first_for or number != 1:
            return
        deadline = time.monotonic() + 10
        for _ in range(self.hold_first_for):
            if not self._answered.acquire(timeout=max(0.0, deadline - time.monotonic())):
                self.overtaken = False
                return
        self.overtaken = True

    def answered(self, number: int) -> None:
        if number != 1:
            self._answered.release()

    def wait_for_company(self) -> None:
        """Hold a request until `gather` are in flight at once (the first `gather` only)."""
        if self._barrier is None or self.gathered is not None:
            return
        try:
            self._barrier.wait()
            self.gathered = True
        except threading.BrokenBarrierError:
            self.gathered = False

    def next_failure(self) -> int | None:
        with self.lock:
            if self.fail_statuses:
                return self.fail_statuses.pop(0)
            return 500 if self.error_rate and self.rng.random() < self.error_rate else None

    def take_truncation(self) -> bool:
        with self.lock:
            if self.truncate_first > 0:
                self.truncate_first -= 1
                return True
            return bool(self.truncate_rate) and self.rng.random() < self.truncate_rate


def scripted_answer(messages: list[dict[str, Any]], behaviour: Behaviour) -> str:
    """What the scripted model writes for these chat messages."""
    converted = [
        SystemMessage(m["content"]) if m["role"] == "system" else HumanMessage(m["content"])
        for m in messages
    ]
    model = ScriptedChatModel(
        seed=behaviour.seed, fault_rate=behaviour.item_fault_rate, faults=behaviour.faults
    )
    text = str(model.invoke(converted).content)
    if behaviour.wrap:
        text = f"<think>\nplanning the batch\n</think>\n```json\n{text}\n```"
    return text


class _Handler(BaseHTTPRequestHandler):
    behaviour: Behaviour
    protocol_version = "HTTP/1.1"
    # Real model servers (Ollama's Go net/http, vLLM's uvicorn) send with TCP_NODELAY; without
    # it the headers and the body go out as two small writes and the client's delayed ACK holds
    # the second one back by about 40 ms per call.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")


class OllamaHandler(_Handler):
    """`/api/tags`, `/api/show` and streaming `/api/chat`, as Ollama serves them."""

    def do_GET(self) -> None:
        if self.path == "/api/tags":
            models = [{"name": n if ":" in n else f"{n}:latest"} for n in self.behaviour.models]
            self._json(200, {"models": models})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/api/show":
            if body.get("model") in self.behaviour.models:
                self._json(200, {"details": {"family": "qwen3"}, "model_info": {}})
            else:
                self._json(404, {"error": f"model '{body.get('model')}' not found"})
            return
        if self.path != "/api/chat":
            self._json(404, {"error": "not found"})
            return
        with self.behaviour.lock:
            self.behaviour.requests.append(body)
            number = len(self.behaviour.requests)
            if self.behaviour.down_after is not None:
                self.behaviour.down = len(self.behaviour.requests) > self.behaviour.down_after
        if self.behaviour.down:
            self.close_connection = True  # no status line: the client sees a dropped connection
            return
        self.behaviour.wait_for_company()
        self.behaviour.hold_if_first(number)
        if self.behaviour.delay_seconds:
            time.sleep(self.behaviour.delay_seconds)
        try:
            self._answer(body)
        finally:
            self.behaviour.answered(number)

    def _answer(self, body: dict[str, Any]) -> None:
        if body.get("model") not in self.behaviour.models:
            self._json(404, {"error": f"model '{body.get('model')}' not found, try pulling it"})
            return
        status = self.behaviour.next_failure()
        if status is not None:
            self._json(status, {"error": "model runner has unexpectedly stopped"})
            return
        text = scripted_answer(body["messages"], self.behaviour)
        done_reason = "stop"
        if self.behaviour.take_truncation():
            text, done_reason = text[: len(text) * 2 // 3], "length"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = [text[i : i + 40] for i in range(0, len(text), 40)]
        for piece in pieces:
            self._chunk(
                {"model": body["model"], "message": {"role": "assistant", "content": piece}}
            )
        final: dict[str, Any] = {
            "model": body["model"],
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": done_reason,
        }
        if self.behaviour.report_usage:
            prompt = "".join(m["content"] for m in body["messages"])
            final |= {"prompt_eval_count": len(prompt) // 4, "eval_count": len(text) // 4}
        self._chunk(final)
        self.wfile.write(b"0\r\n\r\n")

    def _chunk(self, obj: dict[str, Any]) -> None:
        obj = {"created_at": "2026-11-25T00:00:00Z", "done": False, **obj}
        line = (json.dumps(obj) + "\n").encode()
        self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.flush()


class OpenAIHandler(_Handler):
    """`/v1/models` and non-streaming `/v1/chat/completions`, as vLLM serves them."""

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self._json(200, {"data": [{"id": n} for n in sorted(self.behaviour.models)]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = self._body()
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": "not found"}})
            return
        with self.behaviour.lock:
            self.behaviour.requests.append(body)
        if body.get("model") not in self.behaviour.models:
            self._json(404, {"error": {"message": f"model {body.get('model')} does not exist"}})
            return
        status = self.behaviour.next_failure()
        if status is not None:
            self._json(status, {"error": {"message": "engine overloaded"}})
            return
        text = scripted_answer(body["messages"], self.behaviour)
        finish_reason = "stop"
        if self.behaviour.take_truncation():
            text, finish_reason = text[: len(text) * 2 // 3], "length"
        prompt = "".join(m["content"] for m in body["messages"])
        usage = {
            "prompt_tokens": estimate_tokens(prompt),
            "completion_tokens": estimate_tokens(text),
            "total_tokens": estimate_tokens(prompt) + estimate_tokens(text),
        }
        self._json(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": finish_reason,
                    }
                ],
                **({"usage": usage} if self.behaviour.report_usage else {}),
            },
        )


@contextmanager
def serve(
    handler: type[_Handler], behaviour: Behaviour | None = None
) -> Iterator[tuple[str, Behaviour]]:
    """Run a server on a free loopback port; yields its base URL and its behaviour."""
    behaviour = behaviour or Behaviour()
    bound = type("BoundHandler", (handler,), {"behaviour": behaviour})
    server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", behaviour
    finally:
        server.shutdown()
        server.server_close()
