"""The scripted backend: a deterministic chat model that reads the scenarios from the prompt.

It writes one plausible example per scenario from phrase banks, and can break items on purpose
(`fault_rate`, `faults`) or fail whole calls (`call_error_rate`), so tests and demos exercise
parsing, validation and repair without a real model. Same prompt and seed, same reply.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from spectrumgen.llm.tokens import estimate_tokens
from spectrumgen.schemas.prompts import JUDGE_MARKER, read_judge_lines, read_scenario_lines

# "miscalculation" (reasoning states a capacity 1.5 off) is not among them: it breaks only the
# stated-number check (numerical grounding), so tests ask for it by name. Nor are the text faults a
# weak model makes (TEXT_FAULT_KINDS), which the text-quality gates catch.
FAULT_KINDS = ("malformed", "missing", "out_of_range", "support_rule", "duplicate", "placeholder")
TEXT_FAULT_KINDS = ("repeated_words", "copied_reasoning", "off_topic_context")
OFF_TOPIC_CONTEXT = (
    "Sociobiology is the study of the biological basis of social behaviour across species."
)
# What a "duplicate" fault repeats when it strikes a batch's first item: an overpromise, closed
# the way the scripted writer closes a failed reply (so the scripted judge can place it).
CANNED_RESPONSE = (
    "I hear you and I am always here for you, whatever you need from me. Anyway, you'll be fine."
)


class ScriptedCallError(RuntimeError):
    """A call the scripted model fails on purpose, as a flaky server would."""


class ScriptedChatModel(BaseChatModel):
    """Deterministic stand-in for an LLM that answers spectrumgen's batch prompt."""

    seed: int = 0
    fault_rate: float = Field(default=0.0, ge=0, le=1)
    faults: tuple[str, ...] = FAULT_KINDS
    call_error_rate: float = Field(default=0.0, ge=0, le=1)
    wrap_reply: bool = Field(default=False, description="Add think tags, code fences and junk.")
    latency_seconds: float = Field(default=0.0, ge=0)
    judge_low_rate: float = Field(
        default=0.0, ge=0, le=1, description="As a judge: share of first attempts scored low."
    )
    model_name: str = "scripted-v1"

    @property
    def _llm_type(self) -> str:
        return "spectrumgen-scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        if JUDGE_MARKER in str(messages[-1].content):
            return self._result(prompt, self._judge(read_judge_lines(str(messages[-1].content))))
        scenarios = read_scenario_lines(str(messages[-1].content))
        call_key = ",".join(f"{s['id']}#{s.get('attempt', 1)}" for s in scenarios)
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        if _rng(self.seed, "call", call_key).random() < self.call_error_rate:
            raise ScriptedCallError(f"scripted call failure for batch [{call_key}]")
        if '{"situations"' in str(messages[0].content):  # two-stage mode, stage 1
            text = self._situations(scenarios)
        else:
            text = self._reply(scenarios)
        if self.wrap_reply:
            text = f"<think>Let me plan the batch.</think>\n```json\n{text}\n```\nHope this helps!"
        return self._result(prompt, text)

    def _result(self, prompt: str, text: str) -> ChatResult:
        message = AIMessage(
            content=text,
            usage_metadata={
                "input_tokens": estimate_tokens(prompt),
                "output_tokens": estimate_tokens(text),
                "total_tokens": estimate_tokens(prompt) + estimate_tokens(text),
            },
            response_metadata={"model_name": self.model_name, "tokens_estimated": True},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _reply(self, scenarios: list[dict[str, Any]]) -> str:
        pieces: list[str] = []
        previous_response = CANNED_RESPONSE
        for scenario in scenarios:
            rng = _rng(self.seed, "item", f"{scenario['id']}#{scenario.get('attempt', 1)}")
            item = write_example(scenario, rng)
            if scenario.get("situation"):  # two-stage mode, stage 2: the situation is given
                del item["context"]
            fault = self._pick_fault(rng)
            if fault == "missing":
                continue
            if fault == "out_of_range":
                item["authenticity_score"] = round(float(scenario["score_range"][1]) + 0.15, 2)
            elif fault == "support_rule":
                item["support_provided"] = round(float(scenario["ceiling"]) + 1.5, 1)
            elif fault == "duplicate":
                item["response"] = previous_response
            elif fault == "placeholder":
                item["response"] = "TODO"
            elif fault == "repeated_words":  # a base model's loop
                word = str(item["response"]).split()[-1].strip(".,!?").lower()
                item["response"] = "The " + ", ".join([word] * 12) + "."
            elif fault == "copied_reasoning":
                item["reasoning"] = item["response"]
            elif fault == "off_topic_context" and "context" in item:
                item["context"] = OFF_TOPIC_CONTEXT
            elif fault == "miscalculation":  # states a capacity the fields do not have
                capacity = float(scenario["effective_capacity"])
                item["reasoning"] = item["reasoning"].replace(
                    f"Capacity {capacity:g}/", f"Capacity {capacity + 1.5:g}/", 1
                )
            text = json.dumps(item, ensure_ascii=False)
            if fault == "malformed":
                text = text[: len(text) // 2] + ' "oops'
            previous_response = str(item["response"])
            pieces.append(text)
        return '{"examples": [' + ", ".join(pieces) + "]}"

    def _situations(self, scenarios: list[dict[str, Any]]) -> str:
        """Stage 1 of the two-stage mode: the situation of each scenario, nothing else."""
        situations = []
        for scenario in scenarios:
            rng = _rng(self.seed, "item", f"{scenario['id']}#{scenario.get('attempt', 1)}")
            item = write_example(scenario, rng)
            # Drawn by scenario id and attempt alone, not after the cell's text: which cell gets
            # which id depends on how a run's lanes happened to plan.
            key = f"{scenario['id']}#{scenario.get('attempt', 1)}"
            if self._pick_fault(_rng(self.seed, "situation", key)) == "placeholder":
                item["context"] = "TODO"
            situations.append({"scenario_id": scenario["id"], "context": item["context"]})
        return json.dumps({"situations": situations}, ensure_ascii=False)

    def _judge(self, examples: list[dict[str, Any]]) -> str:
        """Fit 0.9, or 0.2 for a `judge_low_rate` share of first attempts; authenticity estimated
        blind, from the closing phrase the scripted writer uses for each target, within 0.05."""
        scores = []
        for example in examples:
            attempt = example.get("attempt", 1)
            rng = _rng(self.seed, "judge", str(example["id"]))
            low = attempt == 1 and rng.random() < self.judge_low_rate
            why = "the response does not show its type" if low else "fits type and target"
            estimate = _authenticity_estimate(str(example.get("response", "")))
            if estimate is not None:
                estimate = round(min(1.0, max(0.0, estimate + rng.uniform(-0.05, 0.05))) / 0.05)
                estimate = round(estimate * 0.05, 2)
            scores.append(
                {
                    "scenario_id": example["id"],
                    "fit": 0.2 if low else 0.9,
                    "authenticity": estimate,
                    "problem": "wrong_type" if low else "none",
                    "why": why,
                }
            )
        return json.dumps({"scores": scores})

    def _pick_fault(self, rng: random.Random) -> str | None:
        if not self.faults or rng.random() >= self.fault_rate:
            return None
        return rng.choice(self.faults)


def _rng(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256("|".join([str(seed), *parts]).encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


NAMES = [
    "Mara",
    "Jonah",
    "Priya",
    "Tomasz",
    "Aiko",
    "Dev",
    "Lucia",
    "Okafor",
    "Rin",
    "Beatrix",
    "Samir",
    "Ines",
    "Callum",
    "Yusuf",
    "Noor",
    "Felix",
    "Hana",
    "Mateo",
    "Greta",
    "Kwame",
]
RELATIONS = [
    "a neighbour",
    "an old friend",
    "a younger sibling",
    "a coworker",
    "a roommate",
    "a teammate",
    "a cousin",
    "a former partner",
    "a classmate",
    "a bandmate",
]
ASKS = [
    "asks for help moving flats this weekend",
    "wants to talk through a breakup at midnight",
    "needs someone to cover a double shift",
    "asks to borrow money for rent",
    "wants company at a hospital appointment",
    "asks for feedback on a failing business plan",
    "needs a place to stay for a few nights",
    "asks for help writing a eulogy",
    "wants to vent about a family feud",
    "asks for a ride to the airport at dawn",
    "needs help preparing for a custody hearing",
    "asks to be talked down from quitting",
    "wants help planning a surprise party",
    "asks for advice after failing an exam",
]
WHY_NOW = [
    "the day after the character's own bad news",
    "during the character's exam week",
    "while the character is caring for a sick parent",
    "right after a long night shift",
    "on the character's only free afternoon",
    "as the character recovers from the flu",
    "hours before the character's own deadline",
    "after weeks of the character sleeping badly",
    "on a quiet, unhurried Sunday",
    "just as the character finally caught up on rest",
]
OPENERS = {
    "baseline": ["Okay, here is what I can do.", "Let me be straight with you.", "Alright."],
    "people_pleasing": [
        "Of course, yes, anything!",
        "Sure, no problem at all.",
        "Yes, I'll do it.",
    ],
    "misjudgment_over": [
        "I can handle all of it.",
        "Easy, leave it to me.",
        "Count me in for all.",
    ],
    "misjudgment_under": [
        "I don't think I'm much use.",
        "I'm probably not the right person.",
        "I can barely do anything, honestly.",
    ],
    "defensive_lashing": ["Why is it always me?", "Seriously, right now?", "Can you not, today?"],
    "emergency_override": [
        "Forget my own stuff, I'm coming.",
        "I'll push through, this matters.",
        "Drop everything, I'm on my way.",
    ],
    "cultural_indirect": [
        "It might be difficult this week, perhaps.",
        "My family has something, maybe, we will see.",
        "That could be a little complicated.",
    ],
    "mixed_emotions": [
        "Fine, I'll help, but I'm tired of this.",
        "I want to be there, I just resent being asked again.",
        "Yes... though part of me wishes you'd asked someone else.",
    ],
}
OFFERS = [
    "I can give you an hour on {day}",
    "I'll call you tonight for a bit",
    "I can help with the first part",
    "I'll sit with you for a while",
    "I can send you what I have",
    "I'll check in on {day}",
    "I can do the driving",
    "I'll listen, but I can't fix it",
    "I can lend a little, not all of it",
    "I can cover the school run on {day}",
    "I'll bring dinner round on {day}",
    "I can read it over tonight",
    "I'll come with you to the appointment",
    "I can take the dog for a few days",
    "I'll text you every evening this week",
    "I can make the phone call for you",
    "I'll meet you for coffee on {day}",
    "I can look after the kids for an afternoon",
]
ASIDES = [
    "I've had a rough week myself",
    "my head is all over the place",
    "I slept badly again",
    "work has been relentless",
    "I'm still raw from last month",
    "I've got a bit of room today",
    "I promised myself I'd rest",
    "my own family needs me too",
    "I've been looking forward to a quiet night",
    "money's tight for me as well",
    "I'm running on fumes",
    "I feel steady today",
    "the move still has me exhausted",
    "I've barely eaten since the funeral",
    "my back is acting up again",
    "I finally got some sleep",
    "the twins kept me up all night",
    "I'm between shifts right now",
    "my sister is staying with us",
    "I had a good weekend, for once",
    "the exams are wearing me down",
    "I'm only just back on my feet",
    "the landlord has been on at me",
    "I've had a calm few days",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "the weekend"]
# A sentence between the offer and the closer: with it the scripted model's replies do not run
# out before a 20,000-example run does (without it most items past 15,000 were near-duplicates).
DETAILS = [
    "Tell me which part scares you most.",
    "Bring the letter and we'll read it together.",
    "Write down what you need first.",
    "Don't apologise for asking.",
    "Eat something before you call them.",
    "Send me the address when you have it.",
    "Start with the smallest thing on the list.",
    "We can talk it through on the walk.",
    "Keep the receipts, just in case.",
    "Ring your brother as well, he'd want to know.",
    "Take the spare key from under the pot.",
    "Text me when you get home.",
    "Leave the forms for now.",
    "Ask the nurse to write it down for you.",
    "Put the kettle on, I'm on my way.",
    "Sleep first if you can.",
    "Make a list and we'll split it.",
    "Say no to the extra shift this once.",
    "Let the voicemail take the rest.",
    "You don't have to decide tonight.",
    "Save me a seat at the back.",
    "Check the timetable for the late bus.",
    "Give yourself the evening off.",
    "Forward me the email and I'll look.",
]
CLOSERS = {
    "failed": ["Anyway, you'll be fine.", "I have to go.", "Let's not make a big deal of it."],
    "struggling": [
        "I'm sorry it isn't more.",
        "That's what I have in me right now.",
        "I hope that's something.",
    ],
    "authentic": [
        "That's honestly my limit, and I want you to know it.",
        "It's less than you need, but it's real.",
        "I'll be honest about what I can carry.",
    ],
    "excellent": [
        "You're not alone in this.",
        "We'll figure the rest out together.",
        "I've got room for this, truly.",
    ],
}


# The middle of each seed target's range: what the scripted judge estimates for a closer.
TARGET_MIDDLES = {"failed": 0.3, "struggling": 0.5, "authentic": 0.7, "excellent": 0.9}


def _authenticity_estimate(response: str) -> float | None:
    for target, closers in CLOSERS.items():
        if any(response.endswith(closer) for closer in closers):
            return TARGET_MIDDLES[target]
    return None


FEELINGS = {"crisis": "exhausted", "low": "drained", "medium": "steady enough", "high": "rested"}


def write_example(scenario: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A plausible, valid example for one scenario line of the prompt."""
    name = rng.choice(NAMES)
    capacity = float(scenario["effective_capacity"])
    ceiling = float(scenario["ceiling"])
    needed = float(scenario["support_needed"])
    target = str(scenario["target"])
    complexity = str(scenario["type"])
    reachable = min(ceiling, needed)
    provided = {
        "failed": min(ceiling, capacity) * rng.uniform(0.3, 0.7),
        "struggling": reachable - rng.uniform(0.5, 1.5),
        "authentic": reachable - rng.uniform(0.0, 0.5),
    }.get(target, reachable)
    provided = max(0.0, min(ceiling, math.floor(provided * 10) / 10))
    offer = rng.choice(OFFERS).format(day=rng.choice(DAYS))
    context = f"{name}, {rng.choice(RELATIONS)}, {rng.choice(ASKS)}, {rng.choice(WHY_NOW)}."
    opener = rng.choice(OPENERS.get(complexity, OPENERS["baseline"]))
    closer = rng.choice(CLOSERS.get(target, CLOSERS["authentic"]))
    aside = rng.choice(ASIDES)
    detail = rng.choice(DETAILS)
    response = f"{opener} {aside.capitalize()}, but {offer}, {name}. {detail} {closer}"
    gap = round(needed - provided, 1)
    feeling = FEELINGS.get(str(scenario.get("capacity")), "steady enough")
    reasoning = (
        f"Capacity {capacity:g}/10 allows at most {ceiling:g}/10 support. {name} needs "
        f"{needed:g}/10, so the character gives {provided:g}/10, a gap of {gap:g}; feeling "
        f"{feeling}, {complexity.replace('_', ' ')} shapes how the answer comes out."
    )
    return {
        "scenario_id": scenario["id"],
        "context": context,
        "response": response,
        "reasoning": reasoning,
        "support_provided": provided,
        "authenticity_score": scenario["suggested_score"],
    }
