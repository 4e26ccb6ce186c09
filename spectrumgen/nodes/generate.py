"""generate: ONE LLM call for a batch of scenarios, the shared rules stated once.

Runs once per batch, fanned out with `Send`. The batch's JSON schema, tightened per scenario,
goes with the call so servers that can constrain decoding do. A call that fails is not fatal: its
scenarios come back as failures for repair. A transport failure is retried by the node's
`RetryPolicy`; a backend that stays unreachable stops the run (BackendUnavailableError).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langgraph.runtime import Runtime

from spectrumgen.errors import BackendUnavailableError
from spectrumgen.graph.lanes import run_lanes
from spectrumgen.llm import Backend, backend_for, call_batch
from spectrumgen.llm.counting import counting, set_aside, take_back
from spectrumgen.nodes.common import node_parts
from spectrumgen.redact import redact
from spectrumgen.schemas.batch import FULL, BatchTask, RawReply, batch_json_schema
from spectrumgen.schemas.prompts import (
    completion_document,
    pick_exemplars,
    system_prompt,
    user_prompt,
)


def make_generate(chat_model: BaseChatModel | None = None) -> Callable[..., dict[str, Any]]:
    """The generate node; `chat_model` replaces the context's backend when given."""

    def generate(task: dict[str, Any], runtime: Runtime[Any]) -> dict[str, Any]:
        """Ask the model for one batch and keep its raw reply (or the error) for parse."""
        parts = node_parts(runtime, task)
        batch = BatchTask.model_validate(task)
        backend = (
            Backend("custom", _model_name(chat_model), chat_model)
            if chat_model is not None
            else backend_for(parts.context, batch.model)
        )
        shown = pick_exemplars(parts.spec, batch.scenarios, parts.context.exemplars, batch.batch_id)
        if backend.completion and batch.stage == FULL:  # a base model continues a document
            system, user = "", completion_document(parts.spec, batch.scenarios, shown)
        else:
            system = system_prompt(parts.spec, batch.scenarios, batch.stage)
            user = user_prompt(batch.scenarios, shown)
        schema = batch_json_schema(parts.spec, batch.scenarios, backend.text_schemas, batch.stage)
        reply = RawReply(
            batch_id=batch.batch_id,
            wave=batch.wave,
            scenarios=batch.scenarios,
            model=backend.model_name,
            backend=backend.name,
            stage=batch.stage,
        )
        slots = run_lanes(parts.context.db_url, str(task.get("run_id")), parts.context.concurrency)
        with counting() as counted, slots.call_slot(int(task.get("lane", 0))):
            try:
                answer = call_batch(backend, system, user, schema, len(batch.scenarios))
            except BackendUnavailableError:  # retried (transport) or the run stops
                set_aside(batch.batch_id, counted.requests)
                raise
            except Exception as error:  # a failed call is repaired like a failed item
                answer = None
                reply.error = redact(f"{type(error).__name__}: {error}")
        reply.requests = counted.requests + take_back(batch.batch_id)
        if answer is not None:
            reply.text = answer.text
            reply.prompt_tokens = answer.prompt_tokens
            reply.completion_tokens = answer.completion_tokens
            reply.tokens_estimated = answer.tokens_estimated
            reply.seconds = answer.seconds
            reply.truncated = answer.truncated
        parts.emit(
            {
                "event": "batch_generated",
                "batch_id": batch.batch_id,
                "wave": batch.wave,
                "items": len(batch.scenarios),
                "error": reply.error,
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
                "truncated": reply.truncated,
                "model": reply.model,
            }
        )
        return {"replies": [reply.model_dump()]}

    return generate


def _model_name(chat_model: BaseChatModel) -> str:
    for attribute in ("model_name", "model"):
        value = getattr(chat_model, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(chat_model).__name__
