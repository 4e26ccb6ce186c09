"""The wiring: start -> lanes side by side -> finish. Each lane loops plan_gaps -> compose ->
generate -> parse -> validate -> judge -> review -> repair -> record -> plan_gaps again, until the
target and quotas are met or a budget is spent (`spectrumgen.graph.lanes`).

generate and judge retry transport failures with backoff (LangGraph `RetryPolicy`); nothing else
is retried there: a bad reply is repaired item by item, a missing model stops the run. The nodes
that write the ledger retry a lost database connection (a PostgreSQL restart): their writes are
idempotent, so a retried node never records twice.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import RetryPolicy
from sqlalchemy.exc import DBAPIError, OperationalError

from spectrumgen.errors import TransientBackendError
from spectrumgen.graph.context import RECURSION_LIMIT, RunContext
from spectrumgen.graph.lanes import run_lanes
from spectrumgen.graph.routing import (
    after_judging,
    after_planning,
    after_recording,
    after_validation,
    fan_out_batches,
    fan_out_lanes,
)
from spectrumgen.graph.state import GenerationInput, GenerationOutput, GenerationState, RunState
from spectrumgen.nodes.common import EVENTS_KEY, node_parts
from spectrumgen.nodes.compose import compose
from spectrumgen.nodes.finish import finish
from spectrumgen.nodes.generate import make_generate
from spectrumgen.nodes.judge import judge
from spectrumgen.nodes.parse import parse
from spectrumgen.nodes.plan_gaps import plan_gaps
from spectrumgen.nodes.record import record
from spectrumgen.nodes.repair import repair
from spectrumgen.nodes.review import review
from spectrumgen.nodes.start import start
from spectrumgen.nodes.validate import validate
from spectrumgen.schemas.batch import BatchTask

TRANSIENT_DB_WORDS = ("connection", "terminat", "closed", "shutting down", "restart", "locked")


def ledger_connection_lost(error: Exception) -> bool:
    """True for a database error a retry can cure: a dropped connection (a server restart), or a
    busy SQLite file; not a missing table or a bad query."""
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    message = str(getattr(error, "orig", error)).lower()
    return isinstance(error, OperationalError) and any(w in message for w in TRANSIENT_DB_WORDS)


LEDGER_RETRY = RetryPolicy(
    initial_interval=0.5,
    backoff_factor=2.0,
    max_interval=8.0,
    max_attempts=6,
    jitter=True,
    retry_on=ledger_connection_lost,
)
TRANSPORT_RETRY = RetryPolicy(
    initial_interval=0.5,
    backoff_factor=2.0,
    max_interval=8.0,
    max_attempts=4,
    jitter=True,
    retry_on=TransientBackendError,
)


def build_graph(
    chat_model: BaseChatModel | None = None,
    retry_policy: RetryPolicy = TRANSPORT_RETRY,
    context_schema: type[Any] = RunContext,
) -> StateGraph[Any, Any, Any, Any]:
    """The uncompiled generation graph; compile it with your own checkpointer, or embed it.

    start -> lane (one per lane, side by side; each loops until the run is done) -> finish.

    Args:
        chat_model: a LangChain chat model to use instead of the backend the context names.
        retry_policy: how generate and judge retry transport failures.
        context_schema: what a caller passes as context; the served graph's limits it
            (`spectrumgen.graph.served.ServedContext`).
    """
    loop = build_lane_graph(chat_model, retry_policy, context_schema).compile()
    graph = StateGraph(
        RunState,
        context_schema=context_schema,
        input_schema=GenerationInput,
        output_schema=GenerationOutput,
    )
    graph.add_node("start", start, retry_policy=LEDGER_RETRY)
    graph.add_node("lane", make_lane(loop), input_schema=GenerationState)
    graph.add_node("finish", finish, retry_policy=LEDGER_RETRY)
    graph.add_edge(START, "start")
    graph.add_conditional_edges("start", fan_out_lanes, ["lane"])
    graph.add_edge("lane", "finish")
    graph.add_edge("finish", END)
    return graph


def build_lane_graph(
    chat_model: BaseChatModel | None = None,
    retry_policy: RetryPolicy = TRANSPORT_RETRY,
    context_schema: type[Any] = RunContext,
) -> StateGraph[Any, Any, Any, Any]:
    """One lane's loop: plan_gaps -> compose -> generate (a batch; several with model routing or
    two stages) -> parse -> validate -> judge -> review -> repair -> record -> plan_gaps again,
    until the run needs nothing more from this lane. judge and review are skipped when off."""
    graph = StateGraph(GenerationState, context_schema=context_schema)
    graph.add_node("plan_gaps", plan_gaps, retry_policy=LEDGER_RETRY)
    graph.add_node("compose", compose)
    graph.add_node(
        "generate", make_generate(chat_model), input_schema=BatchTask, retry_policy=retry_policy
    )
    graph.add_node("parse", parse)
    graph.add_node("validate", validate, retry_policy=LEDGER_RETRY)
    graph.add_node("judge", judge, retry_policy=retry_policy)
    graph.add_node("review", review)
    graph.add_node("repair", repair)
    graph.add_node("record", record, retry_policy=LEDGER_RETRY)

    graph.add_edge(START, "plan_gaps")
    graph.add_conditional_edges("plan_gaps", after_planning, ["compose", END])
    graph.add_conditional_edges("compose", fan_out_batches, ["generate"])
    graph.add_edge("generate", "parse")
    graph.add_edge("parse", "validate")
    graph.add_conditional_edges("validate", after_validation, ["judge", "review", "repair"])
    graph.add_conditional_edges("judge", after_judging, ["review", "repair"])
    graph.add_edge("review", "repair")
    graph.add_edge("repair", "record")
    graph.add_conditional_edges("record", after_recording, ["plan_gaps", END])
    return graph


def make_lane(loop: CompiledStateGraph[Any, Any, Any, Any]) -> Callable[..., dict[str, Any]]:
    """The lane node: runs one lane's loop (a subgraph, checkpointed under the run's thread, so
    a resumed run goes on in each lane from its last step), its nodes' progress events going to
    whoever streams the run."""

    def lane(
        state: GenerationState, config: RunnableConfig, runtime: Runtime[Any]
    ) -> dict[str, Any]:
        """Loop one lane until the run needs nothing more from it; report how it ended."""
        final: dict[str, Any] = {}
        context = node_parts(runtime, state).context
        shared = run_lanes(context.db_url, str(state.get("run_id")), context.concurrency)
        lane_number = int(state.get("lane", 0))
        shared.began(lane_number)
        # A lane takes about ten steps per batch and ends by the call budget: LangGraph's
        # default limit of steps (10,000) must not end a long run whatever the caller passed.
        limit = max(int(config.get("recursion_limit") or 0), RECURSION_LIMIT)
        # The loop's nodes write their progress events straight to whoever streams the run
        # (`EVENTS_KEY`), as if the lane wrote them (a served run streams only the top
        # namespace's events): streaming the loop's own "custom" mode would make LangGraph run
        # each of its steps on the thread pool beside a stream waiter, about 4 ms a batch.
        writer, lane_vars = runtime.stream_writer, contextvars.copy_context()

        def forward(event: Any) -> None:
            lane_vars.copy().run(writer, event)  # a copy: loop steps may run side by side

        configurable = {**config.get("configurable", {}), EVENTS_KEY: forward}
        inner: RunnableConfig = {**config, "configurable": configurable, "recursion_limit": limit}
        shared.take_turn(lane_number)  # given up while it waits (`spectrumgen.graph.lanes`)
        try:
            # Only what the lane reports is read back after each step, not the whole state.
            for chunk in loop.stream(
                state, inner, stream_mode="values", output_keys=list(LANE_REPORT)
            ):
                if isinstance(chunk, dict):
                    final = chunk
        except GraphBubbleUp:
            raise  # a pause for review, not a failure
        except BaseException:
            # The run stops: the other lanes end at their next plan instead of waiting on the
            # cells this one held (LangGraph waits for every lane before the error gets out).
            shared.stop()
            raise
        finally:
            shared.give_turn(lane_number)
        ended = {key: final.get(key) for key in LANE_REPORT}
        return {"ended": [{"lane": lane_number, **ended}]}

    return lane


LANE_REPORT = ("llm_calls", "call_budget", "budget_rule", "tokens_used")
