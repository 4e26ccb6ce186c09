"""generate makes one call per batch and turns a failed call into failures; repair re-queues only
what failed, with the reason, and gives a scenario up after max_repairs."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult

from spectrumgen.errors import BackendUnavailableError
from spectrumgen.graph.context import RunContext
from spectrumgen.llm.scripted import ScriptedChatModel
from spectrumgen.nodes.generate import make_generate
from spectrumgen.nodes.repair import repair
from spectrumgen.schemas.batch import BatchTask, Outcome, RawReply
from spectrumgen.schemas.spec import Spec
from tests.helpers import FakeRuntime, make_scenarios


class CountingChatModel(ScriptedChatModel):
    """The scripted model, counting its calls."""

    calls: int = 0

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.calls += 1
        return super()._generate(messages, *args, **kwargs)


class UnreachableChatModel(BaseChatModel):
    """A model whose server refuses the connection."""

    @property
    def _llm_type(self) -> str:
        return "unreachable"

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise ConnectionError("Failed to connect")


def _task(spec: Spec, count: int) -> dict:
    return BatchTask(batch_id="b1", wave=1, scenarios=make_scenarios(spec, count)).model_dump()


def test_one_call_answers_a_whole_batch(spec: Spec, scripted_context: RunContext) -> None:
    model = CountingChatModel()
    runtime = FakeRuntime(scripted_context)
    update = make_generate(model)(_task(spec, 5), runtime)
    [reply] = [RawReply.model_validate(r) for r in update["replies"]]
    assert model.calls == 1
    assert all(s.scenario_id in reply.text for s in reply.scenarios)
    assert reply.prompt_tokens > 0 and reply.completion_tokens > 0 and reply.error is None
    assert runtime.events[-1]["event"] == "batch_generated"


def test_a_failed_call_is_kept_as_an_error_for_repair(spec: Spec, scripted_context) -> None:
    model = ScriptedChatModel(call_error_rate=1.0)
    update = make_generate(model)(_task(spec, 3), FakeRuntime(scripted_context))
    reply = RawReply.model_validate(update["replies"][0])
    assert reply.error is not None and "ScriptedCallError" in reply.error


def test_an_unreachable_server_stops_the_run(spec: Spec, scripted_context) -> None:
    with pytest.raises(BackendUnavailableError, match="resume"):
        make_generate(UnreachableChatModel())(_task(spec, 2), FakeRuntime(scripted_context))


def test_repair_requeues_only_failures_with_their_reasons(spec: Spec, scripted_context) -> None:
    scenarios = make_scenarios(spec, 4)
    scenarios[3] = scenarios[3].model_copy(update={"attempt": 3})  # already repaired twice
    outcomes = [
        Outcome(batch_id="b", scenario=scenarios[0], accepted=True),
        Outcome(batch_id="b", scenario=scenarios[1], reasons=["support_provided 9 too high"]),
        Outcome(batch_id="b", scenario=scenarios[2], reasons=["quota full"], retryable=False),
        Outcome(batch_id="b", scenario=scenarios[3], reasons=["missing from the reply"]),
    ]
    update = repair(
        {"outcomes": [o.model_dump() for o in outcomes], "repair_queue": []},  # type: ignore[typeddict-item]
        FakeRuntime(scripted_context),  # type: ignore[arg-type]
    )
    [queued] = update["repair_queue"]
    assert queued["scenario_id"] == scenarios[1].scenario_id
    assert queued["attempt"] == 2 and queued["feedback"] == ["support_provided 9 too high"]
    [replanned] = update["replan_cells"]
    assert replanned["complexity_type"] == scenarios[3].complexity_type
