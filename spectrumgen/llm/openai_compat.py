"""The openai backend: langchain-openai's ChatOpenAI against any OpenAI-compatible server.

vLLM, llama.cpp's server, LM Studio and Ollama's `/v1` all take a JSON-schema response format.
The key comes from OPENAI_API_KEY; local servers accept any.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

from spectrumgen.errors import BackendUnavailableError, TransientBackendError
from spectrumgen.llm.counting import HTTP_HOOKS

DEFAULT_OPENAI_URL = "http://127.0.0.1:8000/v1"
TOKENS_PER_ITEM = 450
CHECK_TIMEOUT_SECONDS = 5.0


def openai_url(base_url: str | None) -> str:
    """The server URL: the flag, else OPENAI_BASE_URL, else a local vLLM's default."""
    return (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_URL).rstrip("/")


def _api_key() -> str:
    return os.environ.get("OPENAI_API_KEY") or "not-needed"


def check_openai(url: str, models: list[str]) -> None:
    """Make sure the server answers `/models` and lists every model (when it lists any).

    Raises:
        BackendUnavailableError: nothing answers, or a model is missing.
    """
    try:
        response = httpx.get(
            f"{url}/models",
            headers={"Authorization": f"Bearer {_api_key()}"},
            timeout=CHECK_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        listed = {str(m.get("id")) for m in response.json().get("data", [])}
    except (httpx.HTTPError, ValueError) as error:
        raise TransientBackendError(
            f"no OpenAI-compatible server answers at {url} ({type(error).__name__}); start one "
            "or point --base-url at it (it ends in /v1)"
        ) from None
    missing = [m for m in models if listed and m not in listed]
    if missing:
        raise BackendUnavailableError(
            f"model {', '.join(missing)} is not served at {url}; it serves "
            f"{', '.join(sorted(listed))}"
        )


def make_chat_openai(url: str, model: str, timeout: float) -> ChatOpenAI:
    """A ChatOpenAI for one model; retries are the graph's (RetryPolicy), not the client's."""
    from langchain_openai import ChatOpenAI  # slow to import: only when used

    return ChatOpenAI(
        model=model,
        base_url=url,
        api_key=_api_key(),  # type: ignore[arg-type]
        timeout=timeout,
        max_retries=0,
        temperature=0.7,
        http_client=httpx.Client(timeout=timeout, event_hooks=HTTP_HOOKS),  # requests counted
    )


def call_options(schema: dict[str, Any], items: int) -> dict[str, Any]:
    """Per-call settings: the batch's schema as a JSON-schema response format."""
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "batch", "schema": schema, "strict": False},
        },
        "max_tokens": TOKENS_PER_ITEM * max(1, items),
    }
