"""The one seam between the graph and an LLM: every backend is a LangChain chat model.

Nodes call `backend_for` and `call_batch`; they never know which backend answers. Errors are
sorted here: a transport failure is a `TransientBackendError` (the graph retries it with
backoff), a missing model or a server that never answers is a `BackendUnavailableError` (the
run stops, exit 4, resumable), and anything else is the batch's own failure (repaired).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import httpx
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from spectrumgen.coherence import Scorer
from spectrumgen.errors import BackendUnavailableError, BadInputError, TransientBackendError
from spectrumgen.graph.context import RunContext
from spectrumgen.llm import embedded, ollama, openai_compat
from spectrumgen.llm.routing import resolve_routes
from spectrumgen.llm.tokens import estimate_tokens
from spectrumgen.redact import redact
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.specs import load_spec

log = logging.getLogger(__name__)

BACKENDS = ("auto", "ollama", "embedded", "openai", "scripted")
Options = Callable[[dict[str, Any], int], dict[str, Any]]


def _no_options(schema: dict[str, Any], items: int) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Backend:
    """A resolved backend: its name, the model it runs, and the chat model to call."""

    name: str
    model_name: str
    chat_model: BaseChatModel
    where: str = field(default="", metadata={"description": "URL or file, for error lines."})
    notice: str | None = None
    options: Options = _no_options
    text_schemas: Callable[[Scenario], dict[str, dict[str, Any]]] | None = None
    completion: bool = field(
        default=False,
        metadata={"description": "A base model: prompt it with a document to continue."},
    )
    scorer: Scorer | None = field(
        default=None,
        metadata={"description": "Scores text by likelihood: the coherence gate runs on it."},
    )


@dataclass(frozen=True)
class ModelReply:
    """The text of one call and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    tokens_estimated: bool
    seconds: float
    truncated: bool = False


@dataclass(frozen=True)
class BackendChoice:
    """Which backend a run uses, and a notice for the user when `auto` chose for them."""

    name: str
    notice: str | None = None


def run_models(context: RunContext) -> tuple[str, ...]:
    """Every model the run's routing table names (one, without routing)."""
    routes = resolve_routes(load_spec(context.spec), context.routing, context.model)
    return tuple(routes.models())


def choose_backend(context: RunContext) -> BackendChoice:
    """Resolve `auto` and check the server has the run's models, before anything is written.

    Raises:
        BadInputError: an unknown backend name.
        BackendUnavailableError: the server is down or lacks a model.
    """
    return _choose(context.backend, context.base_url, run_models(context))


@lru_cache(maxsize=16)
def _choose(name: str, base_url: str | None, models: tuple[str, ...]) -> BackendChoice:
    if name not in BACKENDS:
        raise BadInputError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "ollama":
        ollama.check_ollama(ollama.ollama_url(base_url), list(models))
    elif name == "openai":
        openai_compat.check_openai(openai_compat.openai_url(base_url), list(models))
    elif name == "embedded" and not embedded.embedded_available():
        raise BackendUnavailableError(
            f"the embedded backend is not installed: {embedded.INSTALL_HINT}"
        )
    if name != "auto":
        return BackendChoice(name)
    url = ollama.ollama_url(base_url)
    try:
        ollama.check_ollama(url, list(models))
    except BackendUnavailableError as why:
        if not embedded.embedded_available():
            raise BackendUnavailableError(
                f"{why}; and the embedded fallback is not installed: {embedded.INSTALL_HINT}"
            ) from None
        notice = redact(
            f"no Ollama with {', '.join(models)} at {url}, so using the embedded demo model "
            f"(Gemma 3 270M, not production data); for real data run `ollama serve` and "
            f"`ollama pull {models[0]}`, or pass --backend ollama"
        )
        log.warning(notice)
        return BackendChoice("embedded", notice)
    return BackendChoice("ollama")


def backend_for(context: RunContext, model: str | None = None) -> Backend:
    """The backend for one of the run's models (cached per settings).

    Raises:
        BadInputError: an unknown backend name.
        BackendUnavailableError: the server is down or lacks the model.
    """
    choice = choose_backend(context)
    with _MAKING:  # lanes start together: one of them makes the client, the rest reuse it
        return _backend(
            choice.name,
            model or context.model,
            context.base_url,
            context.seed,
            context.fault_rate,
            context.call_error_rate,
            context.request_timeout,
            context.batch_size,
        )


_MAKING = threading.RLock()


@lru_cache(maxsize=32)
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
    if name == "scripted":
        from spectrumgen.llm.scripted import ScriptedChatModel

        chat = ScriptedChatModel(
            seed=seed,
            fault_rate=fault_rate,
            call_error_rate=call_error_rate,
            judge_low_rate=fault_rate,
        )
        return Backend("scripted", chat.model_name, chat, where="in-process")
    if name == "ollama":
        url = ollama.ollama_url(base_url)
        chat_ollama = ollama.make_chat_ollama(url, model, batch_size, timeout)
        return Backend(
            "ollama",
            model,
            chat_ollama,
            where=url,
            options=lambda schema, items: ollama.call_options(chat_ollama, schema, items),
        )
    if name == "openai":
        url = openai_compat.openai_url(base_url)
        return Backend(
            "openai",
            model,
            openai_compat.make_chat_openai(url, model, timeout),
            where=url,
            options=openai_compat.call_options,
        )
    if name == "embedded":
        chat_embedded = embedded.embedded_chat_model(seed, batch_size)
        return Backend(
            "embedded",
            chat_embedded.model_name,
            chat_embedded,
            where=chat_embedded.path,
            notice=embedded.DEMO_NOTICE,
            options=lambda schema, items: {
                "json_schema": schema,
                "max_tokens": embedded.TOKENS_PER_ITEM * max(1, items),
            },
            text_schemas=embedded.text_schemas,
            completion=True,
            scorer=chat_embedded.reply_logprob,
        )
    raise BadInputError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def call_batch(
    backend: Backend,
    system: str,
    user: str,
    schema: dict[str, Any] | None = None,
    items: int = 1,
) -> ModelReply:
    """One LLM call; usage figures from the model, else estimated and marked so.

    Raises:
        TransientBackendError: a transport failure worth retrying.
        BackendUnavailableError: the server lost the model.
        Exception: anything else the model raised (the batch is repaired).
    """
    options = backend.options(schema, items) if schema is not None else {}
    started = time.perf_counter()
    try:
        messages = [SystemMessage(system), HumanMessage(user)] if system else [HumanMessage(user)]
        message = backend.chat_model.invoke(messages, **options)
    except Exception as error:
        raise _sorted_error(error, backend) from error
    text = message.content if isinstance(message.content, str) else str(message.content)
    usage: Any = getattr(message, "usage_metadata", None)
    reported = bool(usage) and (usage["input_tokens"] or usage["output_tokens"])
    metadata = message.response_metadata
    stop_reason = metadata.get("done_reason") or metadata.get("finish_reason")
    return ModelReply(
        text=text,
        prompt_tokens=usage["input_tokens"] if reported else estimate_tokens(system + user),
        completion_tokens=usage["output_tokens"] if reported else estimate_tokens(text),
        tokens_estimated=not reported or bool(metadata.get("tokens_estimated")),
        seconds=time.perf_counter() - started,
        truncated=stop_reason == "length",
    )


def _sorted_error(error: Exception, backend: Backend) -> Exception:
    """Map a client's exception to retry (transient), stop (unavailable) or repair (as is)."""
    status = _status_code(error)
    where = f"{backend.name} server at {backend.where}" if backend.where else backend.name
    if status == 404:
        hint = f"; run `ollama pull {backend.model_name}`" if backend.name == "ollama" else ""
        return BackendUnavailableError(f"{where} has no model {backend.model_name!r}{hint}")
    if _is_transport_error(error) or (status is not None and (status >= 500 or status == 429)):
        what = f"HTTP {status}" if status else type(error).__name__
        return TransientBackendError(
            f"{where} did not answer for model {backend.model_name!r} ({what}); the run "
            "stopped with its work kept: resume it with --resume once the server is back"
        )
    return error


def _status_code(error: Exception) -> int | None:
    status = getattr(error, "status_code", None)
    if status is None:
        status = getattr(getattr(error, "response", None), "status_code", None)
    return status if isinstance(status, int) and status > 0 else None


def _is_transport_error(error: Exception) -> bool:
    if isinstance(error, httpx.TransportError | ConnectionError | TimeoutError):
        return True
    try:
        import openai
    except ImportError:  # langchain-openai is a dependency, but keep this module importable
        return False
    return isinstance(error, openai.APIConnectionError)
