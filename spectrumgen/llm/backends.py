"""The one seam between the graph and an LLM: every backend is a LangChain chat model.

Nodes call `call_batch`; they never know which backend answers.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpx
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from spectrumgen.errors import BackendUnavailableError, BadInputError
from spectrumgen.graph.context import DEFAULT_OLLAMA_URL, RunContext
from spectrumgen.llm.tokens import estimate_tokens
from spectrumgen.schemas.batch import BatchReply

BACKENDS = ("auto", "ollama", "embedded", "openai", "scripted")
TOKENS_PER_ITEM = 400


@dataclass(frozen=True)
class Backend:
    """A resolved backend: its name, the model it runs, and the chat model to call."""

    name: str
    model_name: str
    chat_model: BaseChatModel


@dataclass(frozen=True)
class ModelReply:
    """The text of one call and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    tokens_estimated: bool
    seconds: float


def backend_for(context: RunContext) -> Backend:
    """The backend a run's context asks for (cached per settings).

    Raises:
        BadInputError: an unknown backend name.
        BackendUnavailableError: the server is down or lacks the model.
    """
    return _backend(
        context.backend,
        context.model,
        context.base_url,
        context.seed,
        context.fault_rate,
        context.call_error_rate,
        context.request_timeout,
        context.batch_size,
    )


@lru_cache(maxsize=16)
def _backend(
    name: str,
    model: str,
    base_url: str | None,
    seed: int,
    fault_rate: float,
    call_error_rate: float,
    timeout: float,
    batch_size: int,
) -> Backend:
    if name not in BACKENDS:
        raise BadInputError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "scripted":
        from spectrumgen.llm.scripted import ScriptedChatModel

        chat = ScriptedChatModel(seed=seed, fault_rate=fault_rate, call_error_rate=call_error_rate)
        return Backend("scripted", chat.model_name, chat)
    if name in ("auto", "ollama"):
        url = ollama_url(base_url)
        check_ollama(url, model)
        from langchain_ollama import ChatOllama

        chat_ollama = ChatOllama(
            model=model,
            base_url=url,
            format=BatchReply.model_json_schema(),
            reasoning=False,
            num_predict=TOKENS_PER_ITEM * batch_size,
            num_ctx=8192,
            client_kwargs={"timeout": timeout},
        )
        return Backend("ollama", model, chat_ollama)
    raise BadInputError(
        f"backend {name!r} is not available in this version; use --backend ollama or scripted"
    )


def ollama_url(base_url: str | None) -> str:
    """The Ollama URL: the flag, else OLLAMA_HOST, else the default local one."""
    url = base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_URL
    return url if "://" in url else f"http://{url}"


def check_ollama(url: str, model: str) -> None:
    """Make sure an Ollama server answers at `url` and has `model`.

    Raises:
        BackendUnavailableError: with what to do about it.
    """
    try:
        response = httpx.get(f"{url.rstrip('/')}/api/tags", timeout=5.0)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise BackendUnavailableError(
            f"no Ollama server answers at {url} ({type(error).__name__}); start one with "
            f"`ollama serve`, point --base-url at it, or use --backend scripted for a demo"
        ) from None
    names = {m.get("name") for m in response.json().get("models", [])}
    names |= {n.removesuffix(":latest") for n in names if n}
    if model not in names:
        raise BackendUnavailableError(
            f"model {model!r} is not on the Ollama server at {url}; run `ollama pull {model}`"
        )


def call_batch(backend: Backend, system: str, user: str) -> ModelReply:
    """One LLM call for one batch; usage figures from the model, else estimated and marked.

    Raises:
        BackendUnavailableError: the server went away or lost the model mid-run.
    """
    started = time.perf_counter()
    try:
        message = backend.chat_model.invoke([SystemMessage(system), HumanMessage(user)])
    except (httpx.ConnectError, httpx.ConnectTimeout, ConnectionError) as error:
        raise BackendUnavailableError(
            f"{backend.name} backend stopped answering ({error}); resume the run once it is back"
        ) from None
    except Exception as error:
        if getattr(error, "status_code", None) == 404:
            raise BackendUnavailableError(
                f"{backend.name} backend has no model {backend.model_name!r} ({error})"
            ) from None
        raise
    text = message.content if isinstance(message.content, str) else str(message.content)
    usage: Any = getattr(message, "usage_metadata", None)
    estimated = not usage or bool(message.response_metadata.get("tokens_estimated"))
    return ModelReply(
        text=text,
        prompt_tokens=usage["input_tokens"] if usage else estimate_tokens(system + user),
        completion_tokens=usage["output_tokens"] if usage else estimate_tokens(text),
        tokens_estimated=estimated,
        seconds=time.perf_counter() - started,
    )
