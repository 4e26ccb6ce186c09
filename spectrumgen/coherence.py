"""Does a response answer its own situation? A likelihood test that a base model can run.

A 270M base model can't judge in words, but it can say how expected a text is. A response that
answers its context is likelier after that context than after someone else's. A non sequitur
("...asks for help writing a promotion speech" / "you can't eat and drink in a kitchen with a
baby") is no likelier after its own context than after any other. This is the mutual-information
criterion of Li et al. 2016 ("A Diversity-Promoting Objective Function for Neural Conversation
Models"), used here as a gate rather than for reranking:

    margin = logp(response | own context) - max over distractors of logp(response | other context)

where logp is the mean log-probability per response token, in nats. The model reads a short
document: a header, two of the spec's exemplars as context/reply pairs, then the context being
tested. The distractors are minimal pairs where they can be: when the context holds the
scenario's request (its `asks` hint, as the embedded model's contexts do), each distractor is the
same context asking for another of the spec's requests, so a reply earns its margin by answering
*this* request, not by repeating the asker's name or the context's words. Otherwise they are the
contexts of the next few exemplars. The thresholds are in the spec's `example_rules.text_quality`
(`min_coherence_margin`, `coherence_distractors`); `bench/coherence.py` measures them on
hand-written replies against the same replies moved to another request or context, and on the
embedded model's own kept examples, labelled by hand.

The gate runs only where the writing backend can score text (the embedded model). With a model
behind an API, whether a response fits is the judge's call (`--judge`).
"""

from __future__ import annotations

from collections.abc import Callable

from spectrumgen.schemas.spec import Spec

INCOHERENT = "incoherent"
HEADER = (
    "Each situation below is someone asking a game character for help, then the character's own "
    "reply to that situation.\n\n"
)
SHOWN_EXEMPLARS = 2

Scorer = Callable[[str, str], float]
"""Mean log-probability per token of a text right after a prefix: `scorer(prefix, text)`."""


def pair(context: str, response: str | None = None) -> str:
    """One situation and its reply as the document writes them (open after `Reply: "`)."""
    opened = f'Situation: {context.strip()}\nReply: "'
    return opened if response is None else f'{opened}{response.strip()}"\n\n'


def document(spec: Spec) -> str:
    """The header and the exemplars every context is read after."""
    shown = spec.exemplars[:SHOWN_EXEMPLARS]
    return HEADER + "".join(pair(e.context, e.response) for e in shown)


def distractors(spec: Spec, context: str = "", request: str | None = None) -> list[str]:
    """The other situations a response is tried after: the context asking for other requests
    when it holds its own (`request`, the scenario's `asks` hint), else exemplar contexts not in
    the document."""
    count = spec.example_rules.text_quality.coherence_distractors
    others = [
        r for r in spec.situation_hints.get("asks", []) if r.lower() != (request or "").lower()
    ]
    if request and holds(context, request) and others:
        at = context.lower().find(request.lower())
        step = max(1, len(others) // count)  # spread over the list: unlike requests, not neighbours
        start = sum(map(ord, request)) % len(others)  # the same choice for the same request
        picked = [others[(start + i * step) % len(others)] for i in range(min(count, len(others)))]
        end = at + len(request)
        return [context[:at] + other + context[end:] for other in dict.fromkeys(picked)]
    return [e.context for e in spec.exemplars[SHOWN_EXEMPLARS : SHOWN_EXEMPLARS + count]]


def holds(context: str, request: str | None) -> bool:
    """True when the context states its request word for word (case aside)."""
    return bool(request) and str(request).lower() in context.lower()


def coherence_margin(
    spec: Spec, scorer: Scorer, context: str, response: str, request: str | None = None
) -> float | None:
    """How much likelier the response is after its own context than after the likeliest
    distractor, in nats per token; None when the spec has no distractors to compare with."""
    others = distractors(spec, context, request)
    if not others:
        return None
    head = document(spec)
    text = f'{response.strip()}"'
    own = scorer(head + pair(context), text)
    return own - max(scorer(head + pair(other), text) for other in others)


def check_coherence(
    spec: Spec, scorer: Scorer, context: str, response: str, request: str | None = None
) -> list[str]:
    """`incoherent: ...` when the response does not answer its own context, else nothing."""
    rules = spec.example_rules.text_quality
    if not rules.enabled or rules.min_coherence_margin is None:
        return []
    try:
        margin = coherence_margin(spec, scorer, context, response, request)
    except ValueError as error:  # e.g. longer than the model's context: unverified is not kept
        return [f"{INCOHERENT}: the response could not be scored ({error})"]
    if margin is None or margin >= rules.min_coherence_margin:
        return []
    return [
        f"{INCOHERENT}: the response is hardly likelier after its own "
        f"{'request' if holds(context, request) else 'context'} than after "
        f"another ({margin:+.2f} nats per token; needs {rules.min_coherence_margin:+.2f})"
    ]
