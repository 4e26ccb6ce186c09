"""The text-quality gates: degenerate, copied and off-topic text is rejected with a named reason."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from spectrumgen.coherence import check_coherence, coherence_margin, distractors
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.ledger import open_ledger
from spectrumgen.llm.scripted import TEXT_FAULT_KINDS, ScriptedChatModel
from spectrumgen.nodes.validate import check_example, copies_an_exemplar
from spectrumgen.reasons import reason_code
from spectrumgen.schemas.example import TEXT_FIELDS as FIELDS
from spectrumgen.schemas.example import GeneratedItem
from spectrumgen.schemas.spec import Spec
from spectrumgen.text_gates import (
    GATES,
    duplicate_ngram_share,
    field_problems,
    item_problems,
    labelled_rows,
    may_copy_any,
    precision_recall,
    shared_run,
    similarity,
    unknown_words,
    words,
)
from tests.helpers import make_scenarios, valid_item

LABELLED = Path(__file__).parent / "data" / "text_quality_labelled.jsonl"


def test_the_labelled_set_has_good_and_bad_examples_of_every_gate() -> None:
    rows = labelled_rows(LABELLED)
    labels = [row["label"] for row in rows]
    assert len(rows) >= 60 and labels.count("good") >= 20
    assert all(labels.count(gate) >= 5 for gate in GATES), labels


TUNING = [row for row in labelled_rows(LABELLED) if row.get("split") != "held_out"]
HELD_OUT = [row for row in labelled_rows(LABELLED) if row.get("split") == "held_out"]


@pytest.mark.parametrize("row", TUNING, ids=lambda row: row["id"])
def test_each_tuning_example_gets_the_verdict_it_was_written_for(spec: Spec, row) -> None:
    reasons = item_problems(spec.example_rules.text_quality, {k: row[k] for k in FIELDS})
    if row["label"] == "good":
        assert reasons == []
    else:
        assert row["label"] in {reason_code(r) for r in reasons}, reasons


def test_the_held_out_set_rejects_no_good_example_and_catches_nine_in_ten(spec: Spec) -> None:
    table = precision_recall(spec.example_rules.text_quality, HELD_OUT, FIELDS)
    assert len(HELD_OUT) >= 20
    assert table["all"]["precision"] == 1.0 and table["all"]["recall"] >= 0.9, table["all"]


def test_precision_and_recall_count_flags_against_labels(spec: Spec) -> None:
    rows = [
        {"label": "good", "context": "x", "response": "y", "reasoning": "z"},
        {"label": "too_few_words", "context": "x", "response": "y", "reasoning": "z"},
    ]
    table = precision_recall(spec.example_rules.text_quality, rows, FIELDS)
    # Both rows are too short: the gate finds the bad one and wrongly flags the good one.
    assert table["too_few_words"] == {
        "labelled": 1,
        "flagged": 2,
        "precision": 0.5,
        "recall": 1.0,
    }


def test_a_response_full_of_one_repeated_word_is_rejected_as_repetition(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0]
    item = GeneratedItem.model_validate(
        valid_item(scenario)
        | {"response": "The ivory's ivory ivory, ivory, ivory, ivory and the ivory of ivory."}
    )
    reasons = check_example(spec, scenario, item)
    assert [reason_code(r) for r in reasons][:1] == ["repetition"], reasons
    assert "'ivory'" in reasons[0]


def test_a_reasoning_equal_to_its_response_is_rejected_as_a_copy(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0]
    fields = valid_item(scenario)
    item = GeneratedItem.model_validate(fields | {"reasoning": fields["response"]})
    reasons = check_example(spec, scenario, item)
    assert any(r.startswith("copied_field: reasoning copies the response") for r in reasons)


def test_an_off_topic_context_is_rejected_naming_what_it_should_be(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0]
    item = GeneratedItem.model_validate(
        valid_item(scenario)
        | {"context": "The theory of sociobiology explains social behaviour by evolution."}
    )
    [reason] = check_example(spec, scenario, item)
    assert reason.startswith("off_topic: context does not read as someone asking the character")


def test_a_spec_can_turn_the_gates_off(spec: Spec) -> None:
    rules = spec.example_rules.text_quality.model_copy(update={"enabled": False})
    assert item_problems(rules, {"response": "ivory ivory ivory ivory ivory ivory ivory"}) == []


def test_duplicate_ngram_share_counts_repeated_runs_once_per_repeat() -> None:
    assert duplicate_ngram_share(words("one two three four five six"), 3) == 0.0
    looped = words("I can help I can help I can help")
    assert duplicate_ngram_share(looped, 3) == pytest.approx(
        sum(map(len, looped[3:])) / sum(map(len, looped))
    )


def test_a_bad_cue_regex_is_refused_naming_the_field(spec: Spec) -> None:
    data = spec.model_dump()
    data["example_rules"]["text_quality"]["topic_cues"] = {"context": ["(unclosed"]}
    with pytest.raises(ValidationError, match=r"topic_cues\.context"):
        Spec.model_validate(data)


def test_a_response_copied_from_an_exemplar_is_a_near_duplicate(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0]
    exemplar = spec.exemplars[2]
    item = GeneratedItem.model_validate(valid_item(scenario) | {"response": exemplar.response})
    [reason] = copies_an_exemplar(spec, item)
    assert reason.startswith("response is a near-duplicate of exemplar 3")
    assert reason_code(reason) == "near_duplicate"


def test_a_run_rejects_text_faults_by_name_and_counts_them(scripted_context: RunContext) -> None:
    graph = build_graph(chat_model=ScriptedChatModel(fault_rate=0.3, faults=TEXT_FAULT_KINDS))
    result = graph.compile().invoke({"target": 20}, context=scripted_context)
    assert result["status"] == "complete"
    rejected = open_ledger(scripted_context.db_url).rejections(result["run_id"])
    codes = {reason_code(r) for rejection in rejected for r in rejection["reasons"]}
    assert {"repetition", "copied_field", "off_topic"} <= codes
    by_reason = result["manifest"]["rejections"]["by_reason"]
    assert by_reason["repetition"] >= 1 and by_reason["off_topic"] >= 1
    lines = (Path(scripted_context.out_dir or "") / "rejected.jsonl").read_text().splitlines()
    assert len(lines) == len(rejected)
    assert result["manifest"]["quality"]["text"]["flagged_share"]["repetition"] == 0.0


def test_an_exemplar_response_with_a_sentence_added_is_still_a_copy(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0]
    exemplar = spec.exemplars[1]
    padded = exemplar.response.strip() + " I'll be there at eight."
    item = GeneratedItem.model_validate(valid_item(scenario) | {"response": padded})
    [reason] = copies_an_exemplar(spec, item)
    assert reason.startswith("response is a near-duplicate of exemplar 2")


def test_a_clause_copied_from_an_exemplar_is_a_copy(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0]
    response = "I'm honestly not sure my advice is worth much, but I'll bring the van at nine."
    item = GeneratedItem.model_validate(valid_item(scenario) | {"response": response})
    [reason] = copies_an_exemplar(spec, item)
    assert (
        reason
        == """response is a near-duplicate of exemplar 4 ("i'm honestly not sure my advice")"""
    )


def test_a_reasoning_ending_on_an_exemplars_clause_is_a_copy(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0]
    fields = valid_item(scenario)
    reasoning = fields["reasoning"] + " The flicker of resentment is said out loud, again."
    item = GeneratedItem.model_validate(fields | {"reasoning": reasoning})
    [reason] = copies_an_exemplar(spec, item)
    assert reason.startswith("reasoning is a near-duplicate of exemplar 8 (")


def test_the_quick_exemplar_test_rules_out_only_fields_that_copy_no_exemplar(spec: Spec) -> None:
    # may_copy_any is a bound: False must mean that no exemplar is near or shares a clause. Fields
    # cut from the exemplars at random (whole, halves, clauses with words around them, words
    # misspelt) come near them at every similarity; each is checked against them one by one.
    rng = random.Random(3)
    cutoff = spec.example_rules.near_duplicate_similarity
    outcomes = {True: 0, False: 0}
    for name in ("context", "response", "reasoning"):
        theirs = tuple(getattr(exemplar, name) for exemplar in spec.exemplars)
        pieces = [w for text in theirs for w in text.split()]
        for _ in range(400):
            source = rng.choice(theirs).split()
            start = rng.randrange(len(source))
            cut = source[start : start + rng.randint(3, len(source))]
            noise = [rng.choice(pieces) for _ in range(rng.randint(0, 12))]
            field = " ".join(rng.sample(noise, len(noise)) + cut + noise[: rng.randint(0, 4)])
            if rng.random() < 0.5:  # a word in every five misspelt: near, with no clause shared
                step = rng.randint(2, 5)
                field = " ".join(w + "x" if i % step == 0 else w for i, w in enumerate(cut))
            copies = any(
                similarity(field, other, cutoff) >= cutoff or shared_run(field, other, 6)
                for other in theirs
            )
            whole = name != "reasoning"
            clause = any(shared_run(field, other, 6) for other in theirs)
            verdict = may_copy_any(field, theirs, 6, cutoff, whole)
            assert verdict or not (copies if whole else clause), field
            outcomes[verdict] += 1
    assert outcomes[True] > 200 and outcomes[False] > 200  # both answers were tested


def test_a_field_naming_an_exemplars_person_copies_the_exemplar(spec: Spec) -> None:
    # "they need 6.3 support and Tobias needs 6.5": the embedded model borrowed exemplar people.
    [scenario] = make_scenarios(spec, 1)
    fine = GeneratedItem.model_validate(valid_item(scenario))
    item = fine.model_copy(
        update={"reasoning": "Capacity 5 allows up to 7 support; Tobias needs 6.5 and gets 5."}
    )
    [reason] = copies_an_exemplar(spec, item, scenario)
    assert reason.startswith("reasoning is a near-duplicate of exemplar 4 (it names")
    assert "'Tobias'" in reason and reason_code(reason) == "near_duplicate"
    hinted = scenario.model_copy(update={"hints": {"who": "Tobias, a neighbour"}})
    assert copies_an_exemplar(spec, item, hinted) == []  # the scenario's own Tobias
    assert copies_an_exemplar(spec, fine, scenario) == []


def test_a_response_that_speaks_of_the_character_is_narration_not_its_words(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0]
    item = GeneratedItem.model_validate(
        valid_item(scenario)
        | {"response": "No, I'm not your friend. The character is not a friend, so she can't."}
    )
    [reason] = check_example(spec, scenario, item)
    assert reason.startswith("off_topic: response says 'The character'"), reason


def test_a_context_that_already_gives_the_answer_is_off_topic(spec: Spec) -> None:
    scenario = make_scenarios(spec, 1)[0]
    context = "Viktor, a landlord, asks for help with a family dinner and the character says yes."
    item = GeneratedItem.model_validate(valid_item(scenario) | {"context": context})
    reasons = check_example(spec, scenario, item)
    assert any(r.startswith("off_topic: context says 'the character says'") for r in reasons)


def test_a_response_repeating_a_clause_of_its_context_copies_it(spec: Spec) -> None:
    rules = spec.example_rules.text_quality
    fields = {
        "context": "Emeka, a gym friend, asks the character to drive him to the airport before "
        "sunrise, and tells her to meet him there. That's the end of a long double shift.",
        "response": "No, I'm not driving anywhere before sunrise, sorry. That's the end of a "
        "long week for me.",
    }
    [reason] = item_problems(rules, fields)
    assert reason == (
        'copied_field: context repeats a clause of the response: "that\'s the end of a long"'
    )
    shorter = fields | {"response": "No, I'm not driving anywhere before sunrise, sorry."}
    assert item_problems(rules, shorter) == []


def overlap_scorer(prefix: str, text: str) -> float:
    """A stand-in for a model: a text is likelier after a last line sharing its words."""
    last = set(words(prefix.rsplit("Situation:", 1)[-1]))
    said = words(text)
    return sum(w in last for w in said) / len(said)


def test_coherence_compares_a_response_after_its_own_context_with_the_likeliest_other(
    spec: Spec,
) -> None:
    response = "I can read the budget section tonight, but not the whole proposal."
    own = "Dana asks the character to read the budget section of her proposal tonight."
    margin = coherence_margin(spec, overlap_scorer, own, response)
    others = [overlap_scorer(f"Situation: {c}", response + '"') for c in distractors(spec)]
    assert len(others) == spec.example_rules.text_quality.coherence_distractors
    by_own = overlap_scorer(f"Situation: {own}", response + '"')
    assert margin == pytest.approx(by_own - max(others))
    assert margin > 0.1 and check_coherence(spec, overlap_scorer, own, response) == []
    elsewhere = "Ruth calls about her landlord, again, late at night."
    [reason] = check_coherence(spec, overlap_scorer, elsewhere, response)
    assert reason.startswith("incoherent: ") and reason_code(reason) == "incoherent"
    rules = spec.example_rules.text_quality.model_copy(update={"min_coherence_margin": None})
    off = spec.model_copy(
        update={"example_rules": spec.example_rules.model_copy(update={"text_quality": rules})}
    )
    assert check_coherence(off, overlap_scorer, elsewhere, response) == []
    too_few = spec.model_copy(update={"exemplars": spec.exemplars[:2]})  # no distractor left
    assert coherence_margin(too_few, overlap_scorer, elsewhere, response) is None


def test_coherence_swaps_the_request_when_the_context_holds_it(spec: Spec) -> None:
    # The embedded model's contexts hold their request word for word: the distractors are the same
    # context asking for other requests, so sharing the asker's name earns a reply nothing.
    request = "help painting a new flat"
    context = f"Suki, a cousin who just moved to town asks the character for {request}."
    others = distractors(spec, context, request)
    count = spec.example_rules.text_quality.coherence_distractors
    assert len(others) == count and len(set(others)) == count
    for other in others:
        assert other.startswith("Suki, a cousin who just moved to town asks the character for ")
        assert (
            request not in other
            and other.removesuffix(".").split(" for ", 1)[1] in (spec.situation_hints["asks"])
        )
    assert distractors(spec, context, request) == others  # the same request, the same choice
    answers = "Sure, Suki, I can help with painting the new flat on Sunday."
    echoes = "Sure, Suki, I moved to town too, cousin, it's a lot."  # names, no answer
    assert check_coherence(spec, overlap_scorer, context, answers, request) == []
    [reason] = check_coherence(spec, overlap_scorer, context, echoes, request)
    assert reason.startswith("incoherent: the response is hardly likelier after its own request")
    # Against exemplar contexts (the request not given) the echo wins on shared words alone.
    assert check_coherence(spec, overlap_scorer, context, echoes) == []
    # A context without its request falls back to the exemplars' contexts.
    assert distractors(spec, "Ruth calls late at night.", request) == distractors(spec)


def test_words_in_no_english_word_list_are_broken_words(spec: Spec) -> None:
    rules = spec.example_rules.text_quality
    glued = "I can take afamily photo on Sunday, but theidle hours before that are mine."
    [reason] = field_problems(rules, "response", glued)
    assert reason == "broken_words: response has words that are not English ('afamily', 'theidle')"
    assert unknown_words("Aonference and goodlylylyly") == ["goodlylylyly"]  # names not checked
    fine = "Ma'am, y'all know my neighbour's sister-in-law won't organise the clear-out."
    assert unknown_words(fine) == [] and field_problems(rules, "response", fine) == []
    off = rules.model_copy(update={"max_unknown_words": None})
    assert field_problems(off, "response", glued) == []


@pytest.mark.parametrize(
    "ending", ["I've always been.", "and I'll just.", "and I am very.", "and it is also."]
)
def test_a_field_cut_off_after_an_auxiliary_or_adverb_is_unfinished(
    spec: Spec, ending: str
) -> None:
    text = f"I can help you with the boxes on Sunday, {ending}"
    [reason] = field_problems(spec.example_rules.text_quality, "response", text)
    assert reason.startswith("unfinished: response stops mid-sentence")


def test_a_response_that_parrots_its_context_instead_of_answering_is_a_copy(spec: Spec) -> None:
    rules = spec.example_rules.text_quality
    context = (
        "Freya, a close friend since school, asks the character to mediate a family argument "
        "about who hosts the holidays this year, because her brothers no longer speak to each "
        "other at all."
    )
    parrot = "Mediate a family argument? Who hosts the holidays is your call, Freya, not mine."
    [reason] = item_problems(rules, {"context": context, "response": parrot})
    assert reason.startswith("copied_field: response echoes the context (4 three-word runs"), reason
    answer = "Not this year, Freya. I love you all, but I can't referee another holiday fight."
    assert item_problems(rules, {"context": context, "response": answer}) == []
