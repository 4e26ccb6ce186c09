"""The ollama backend: langchain-ollama's ChatOllama against an Ollama server (the seed's Qwen3).

The batch's JSON schema goes out as `format`, so the server constrains decoding; thinking is off
(Qwen3 would otherwise spend the token budget thinking); `num_ctx` is fixed per run (changing it
makes Ollama reload the model) and `num_predict` is sized to each batch.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from langchain_ollama import ChatOllama

from spectrumgen.errors import BackendUnavailableError, TransientBackendError
from spectrumgen.graph.context import DEFAULT_OLLAMA_URL
from spectrumgen.llm.counting import HTTP_HOOKS

TOKENS_PER_ITEM = 450
PROMPT_TOKENS_ALLOWANCE = 1500
CHECK_TIMEOUT_SECONDS = 5.0


def ollama_url(base_url: str | None) -> str:
    """The Ollama URL: the flag, else OLLAMA_HOST, else the default local one."""
    url = base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_OLLAMA_URL
    return (url if "://" in url else f"http://{url}").rstrip("/")


def ollama_models(url: str) -> set[str]:
    """The models an Ollama server has (`/api/tags`), with and without a `:latest` tag.

    Raises:
        TransientBackendError: nothing answers at `url`, or it answers with an error.
    """
    try:
        response = httpx.get(f"{url}/api/tags", timeout=CHECK_TIMEOUT_SECONDS)
        response.raise_for_status()
        names = {str(m.get("name")) for m in response.json().get("models", [])}
    except (httpx.HTTPError, ValueError) as error:
        raise TransientBackendError(
            f"no Ollama server answers at {url} ({type(error).__name__}); start one with "
            "`ollama serve`, point --base-url at it, or use --backend embedded"
        ) from None
    return names | {n.removesuffix(":latest") for n in names}


def check_ollama(url: str, models: list[str]) -> None:
    """Make sure an Ollama server answers at `url` and has every model in `models`.

    Raises:
        BackendUnavailableError: with what to do about it.
    """
    have = ollama_models(url)
    missing = [m for m in models if m not in have]
    if missing:
        pulls = " && ".join(f"ollama pull {m}" for m in missing)
        raise BackendUnavailableError(
            f"model {', '.join(missing)} is not on the Ollama server at {url}; run `{pulls}`"
        )


def context_window(batch_size: int) -> int:
    """One `num_ctx` for the whole run: the prompt allowance plus a full batch's reply."""
    needed = PROMPT_TOKENS_ALLOWANCE + TOKENS_PER_ITEM * batch_size
    return max(4096, -(-needed // 1024) * 1024)


def make_chat_ollama(url: str, model: str, batch_size: int, timeout: float) -> ChatOllama:
    """A ChatOllama for one model of the run (imported here: it is slow to import)."""
    from langchain_ollama import ChatOllama

    return ChatOllama(
        model=model,
        base_url=url,
        reasoning=False,
        num_ctx=context_window(batch_size),
        num_predict=TOKENS_PER_ITEM * batch_size,
        client_kwargs={"timeout": timeout},
        sync_client_kwargs={"event_hooks": HTTP_HOOKS},  # every request counted
    )


def call_options(chat: ChatOllama, schema: dict[str, Any], items: int) -> dict[str, Any]:
    """Per-call settings: the batch's schema as `format`, `num_predict` sized to its items."""
    return {
        "format": schema,
        "options": {
            "num_ctx": chat.num_ctx,
            "num_predict": TOKENS_PER_ITEM * max(1, items),
            "temperature": 0.7,
        },
    }
