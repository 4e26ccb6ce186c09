"""Text-quality gates: degenerate, copied or off-topic text never reaches the dataset.

Every gate is a named reason, `"<gate>: <detail>"`, so rejected.jsonl and the manifest can count
failures by kind. The repetition measures are the Gopher rules (Rae et al. 2021, "Scaling
Language Models", Table A1; the same measures datatrove's GopherRepetitionFilter and
GopherQualityFilter compute), rescaled for fields of one to five sentences: on a 30-word field
Gopher's document thresholds misfire (its top 2-gram share counts a pair seen once, so almost
every short field exceeds 0.20), so each threshold here was set on the labelled set in
`tests/data/text_quality_labelled.jsonl` (`python bench/text_gates.py` prints precision and
recall per gate). The thresholds live in the spec (`example_rules.text_quality`), documented
field by field in `spectrumgen.schemas.spec.TextQuality`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import filterfalse
from pathlib import Path

from rapidfuzz import fuzz, utils
from rapidfuzz.distance import LCSseq
from wordfreq import get_frequency_dict

from spectrumgen.schemas.example import TEXT_FIELDS
from spectrumgen.schemas.spec import TextQuality

TOO_FEW_WORDS = "too_few_words"
UNFINISHED = "unfinished"
REPETITION = "repetition"
LOW_VARIETY = "low_variety"
WORD_SALAD = "word_salad"
REPEATED_SENTENCES = "repeated_sentences"
BROKEN_WORDS = "broken_words"
GLUED_PUNCTUATION = "glued_punctuation"
COPIED_FIELD = "copied_field"
OFF_TOPIC = "off_topic"
GATES = (
    TOO_FEW_WORDS,
    UNFINISHED,
    REPETITION,
    LOW_VARIETY,
    WORD_SALAD,
    REPEATED_SENTENCES,
    BROKEN_WORDS,
    GLUED_PUNCTUATION,
    COPIED_FIELD,
    OFF_TOPIC,
)

CURLY_APOSTROPHE = "\u2019"
WORD = re.compile(rf"[A-Za-z][A-Za-z'{CURLY_APOSTROPHE}-]*")
# A word run straight into the next one through punctuation ("help,and", "tired.But"); two
# letters on each side, so "e.g." and "3.5" pass.
GLUED = re.compile(r"[A-Za-z]{2,}[,;:!?.][A-Za-z]{2,}")
GLUE_POINT = re.compile(r"[,;:!?.][A-Za-z]")  # where GLUED can match (a fifth of its scan)
# Two apostrophes in a word ("She'snt't"), or "'s" on a word that takes none ("and's"): the marks
# of a small model stitching tokens, never of a writer.
BROKEN_WORD = re.compile(
    r"[a-z]*'[a-z]*'[a-z']*|(and|the|to|of|a|an|in|on|at|for|with|or|but|is|was)'s"
)
# Words no sentence ends on: a field that stops on one was cut off, whatever its full stop says.
DANGLING = frozenset(
    (
        *("a", "an", "the", "to", "of", "for", "with", "at", "from", "by", "into", "onto"),
        *("and", "or", "but", "because", "than", "if", "my", "your", "their", "our"),
        *("i'm", "we're", "you're", "they're", "i'll", "we'll", "you'll", "they'll"),
        *("i've", "we've", "i'd", "we'd"),
        # Cut off after an auxiliary or an adverb waiting for its verb ("I've always been.",
        # "I'll just.", "...and I would very.", "The character is also."): seen in the embedded
        # model's kept examples.
        *("been", "just", "very", "also"),
    )
)
FINISHED_POSSESSIVES = frozenset(["let's", "it's", "that's", "what's", "here's", "there's"])
# Numbers written back to back ("need 8.3 7.5 support"): number soup, not a calculation.
NUMBER_RUN = re.compile(r"\b\d+(?:\.\d+)? \d+(?:\.\d+)?\b")
DIGIT_SPACE_DIGIT = re.compile(r"\d \d")  # where NUMBER_RUN can match (a third of its scan)
SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# A sentence ends on one of these (a closing quote or bracket may follow).
FINISHED = re.compile(r"[.!?\u2026][\"'\u2019\u201d)\]]*\s*$")
# Gopher's quality filter asks every document for two of its eight stop words; short dialogue
# often has none of those eight, so the word-salad gate counts these common function words
# instead (the eight among them). They are also left out of "the most frequent word": "I" or
# "the" five times in a sentence is English, a content word five times is a loop.
GOPHER_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
_MORE_FUNCTION_WORDS = """a an i me my you your it its is am are was were he she they we his her
their them this in on at for but or not so if as by from up out just do did can can't cannot i'm
i'll i've don't won't will would could should"""
FUNCTION_WORDS = GOPHER_STOP_WORDS | frozenset(_MORE_FUNCTION_WORDS.split())
# Field pairs that must not copy each other: (field, the field it may not repeat).
COPY_PAIRS = (("reasoning", "response"), ("context", "response"), ("reasoning", "context"))


@lru_cache(maxsize=8192)
def raw_words(text: str) -> tuple[str, ...]:
    """The words of a text as written (letters, apostrophes and hyphens). Remembered: each
    item's fields and the spec's exemplars are read by several gates."""
    return tuple(WORD.findall(text))


@lru_cache(maxsize=8192)
def words(text: str) -> tuple[str, ...]:
    """The words of a text, lower-cased (remembered, like `raw_words`)."""
    raw = raw_words(text)  # lower-cased together: one call, not one per word (no word has \0)
    return tuple("\0".join(raw).lower().replace(CURLY_APOSTROPHE, "'").split("\0")) if raw else ()


@lru_cache(maxsize=8192)
def ngrams(text: str, n: int) -> frozenset[tuple[str, ...]]:
    """The text's word n-grams (remembered, like `words`)."""
    tokens = words(text)
    return frozenset(zip(*(tokens[i:] for i in range(n)), strict=False))


def field_problems(rules: TextQuality, name: str, text: str) -> list[str]:
    """Why one text field is degenerate or off-topic (empty when it reads as text)."""
    if not rules.enabled:
        return []
    tokens = words(text)
    minimum = rules.min_words.get(name, 0)
    if len(tokens) < minimum:
        return [f"{TOO_FEW_WORDS}: {name} has {len(tokens)} words (at least {minimum})"]
    reasons = []
    if rules.require_finished_sentences and (not FINISHED.search(text) or _dangling(text)):
        reasons.append(f"{UNFINISHED}: {name} stops mid-sentence (...{text.strip()[-25:]!r})")
    reasons += _repetition(rules, name, tokens)
    if len(tokens) >= rules.variety_min_words:
        distinct = len(set(tokens)) / len(tokens)
        if distinct < rules.min_distinct_word_ratio:
            reasons.append(
                f"{LOW_VARIETY}: {name} uses {len(set(tokens))} distinct words in {len(tokens)} "
                f"(ratio {distinct:.2f} < {rules.min_distinct_word_ratio:g})"
            )
        function_share = sum(map(FUNCTION_WORDS.__contains__, tokens)) / len(tokens)
        if function_share < rules.min_function_word_share:
            reasons.append(
                f"{WORD_SALAD}: {name} is a list of words, not sentences ({function_share:.0%} "
                f"function words < {rules.min_function_word_share:.0%})"
            )
    reasons += _repeated_sentences(rules, name, text)
    broken = (
        [  # both of its forms hold an apostrophe
            w for w in raw_words(text) if "'" in w and BROKEN_WORD.fullmatch(w.lower())
        ]
        if "'" in text
        else []
    )
    if DIGIT_SPACE_DIGIT.search(text):
        broken += NUMBER_RUN.findall(text)
    if len(broken) > rules.max_broken_words:
        reasons.append(
            f"{BROKEN_WORDS}: {name} has words no writer writes "
            f"({', '.join(repr(w) for w in broken[:3])})"
        )
    if rules.max_unknown_words is not None:
        said = {w.lower().replace(CURLY_APOSTROPHE, "'") for w in broken}
        unknown = [w for w in unknown_words(text) if w not in said]  # each word named once
        if len(unknown) > rules.max_unknown_words:
            reasons.append(
                f"{BROKEN_WORDS}: {name} has words that are not English "
                f"({', '.join(repr(w) for w in unknown[:3])})"
            )
    glued = GLUED.findall(text) if GLUE_POINT.search(text) else []
    if len(glued) > rules.max_glued_punctuation:
        reasons.append(
            f"{GLUED_PUNCTUATION}: {name} runs words together through punctuation "
            f"({', '.join(repr(g) for g in glued[:3])})"
        )
    reasons += _off_topic(rules, name, text)
    return reasons


@lru_cache(maxsize=1)
def english_words() -> dict[str, float]:
    """wordfreq's English word list ("best": 321,000 words), read once (0.3 s)."""
    return get_frequency_dict("en", wordlist="best")


def unknown_words(text: str) -> list[str]:
    """The text's lower-case words that no English word list holds ("afamily", "aonference").
    Capitalised words are names (or a sentence's first word) and are not checked; a hyphenated
    word is checked part by part, and a word with an apostrophe the list lacks ("y'all",
    "ma'am", "Mary's") is known when each piece is (the broken-word pattern judges the rest)."""
    known = english_words()
    found = []
    for raw in filterfalse(known.__contains__, raw_words(text)):  # most words, as written
        if raw[0].isupper():  # names
            continue
        for part in raw.lower().replace(CURLY_APOSTROPHE, "'").strip("'-").split("-"):
            if part and part not in known and not all(p in known for p in part.split("'") if p):
                found.append(part)
    return found


def copied_fields(rules: TextQuality, fields: Mapping[str, str]) -> list[str]:
    """Pairs of fields where one copies the other (e.g. a reasoning that repeats the response)."""
    if not rules.enabled:
        return []
    reasons = []
    copied: set[str] = set()  # fields in a pair already found copying
    for name, other in COPY_PAIRS:
        if name not in fields or other not in fields:
            continue
        score = similarity(fields[name], fields[other], rules.max_field_similarity)
        if score >= rules.max_field_similarity:
            reasons.append(
                f"{COPIED_FIELD}: {name} copies the {other} (similarity {score:.0f} >= "
                f"{rules.max_field_similarity:g})"
            )
        elif clause := shared_run(fields[name], fields[other], rules.max_shared_run_words):
            reasons.append(f"{COPIED_FIELD}: {name} repeats a clause of the {other}: {clause!r}")
        else:
            continue
        copied |= {name, other}
    if "response" in fields and "context" in fields and "response" not in copied:
        echoed = shared_ngrams(fields["response"], fields["context"], 3)
        if len(echoed) > rules.max_echoed_trigrams:
            shown = ", ".join(repr(" ".join(g)) for g in echoed[:3])
            reasons.append(
                f"{COPIED_FIELD}: response echoes the context ({len(echoed)} three-word runs: "
                f"{shown}) instead of answering it"
            )
    return reasons


def shared_ngrams(a: str, b: str, n: int) -> list[tuple[str, ...]]:
    """The word n-grams two texts share, in the order the first says them."""
    first, theirs = words(a), ngrams(b, n)
    found = [first[i : i + n] for i in range(len(first) - n + 1)]
    return list(dict.fromkeys(g for g in found if g in theirs))


def shared_run(a: str, b: str, length: int) -> str | None:
    """The first run of `length` words that both texts contain, or None."""
    common = ngrams(a, length) & ngrams(b, length)  # both remembered: one set operation
    if not common:
        return None
    first = words(a)
    return next(
        " ".join(first[i : i + length])
        for i in range(len(first) - length + 1)
        if first[i : i + length] in common
    )


@lru_cache(maxsize=8192)
def prepare(text: str) -> str:
    """A text as the near-duplicate check compares it (rapidfuzz's default processing);
    remembered, like `words`: the spec's exemplars are compared with every item."""
    return str(utils.default_process(text))


def similarity(a: str, b: str, cutoff: float = 0.0) -> float:
    """0-100: how much of one text the other repeats; 0 for anything under `cutoff` (which
    lets rapidfuzz stop early when only "at least `cutoff`?" matters).

    The plain similarity of the two (rapidfuzz's normalised Indel ratio), or, when the shorter is
    at least half as long, how well it is found inside the longer (`partial_ratio`): a reasoning
    that is the response plus a sentence still counts as a copy.
    """
    a, b = prepare(a), prepare(b)
    if not a or not b:
        return 0.0
    score = fuzz.ratio(a, b, score_cutoff=cutoff)
    short, long = sorted((a, b), key=len)
    if score < 100 and len(short) >= 0.5 * len(long) and _may_reach(short, long, cutoff, score):
        score = max(score, fuzz.partial_ratio(short, long, score_cutoff=max(cutoff, score)))
    return float(score)


@lru_cache(maxsize=64)
def _held_texts(
    texts: tuple[str, ...], run: int
) -> tuple[tuple[str, ...], frozenset[tuple[str, ...]]]:
    """Fixed texts (a spec's exemplars) as `may_copy_any` reads them: each one `prepare`d, and
    every run of `run` words any of them holds."""
    grams = frozenset().union(*(ngrams(text, run) for text in texts))
    return tuple(prepare(text) for text in texts), grams


def may_copy_any(text: str, others: tuple[str, ...], run: int, cutoff: float, whole: bool) -> bool:
    """False when `text` shares no run of `run` words with any of `others` and, if `whole`,
    `similarity(text, other, cutoff)` cannot reach `cutoff` for any of them: one set test and
    one LCS per text (in C) instead of both checks per text. Each similarity is bounded as in
    `_may_reach`: `ratio` is 200·L / (|a| + |b|) and |longer| >= L, so neither it nor the
    partial ratio exceeds 200·L / (|shorter| + L). True means "check them one by one"."""
    prepared, grams = _held_texts(others, run)
    if not ngrams(text, run).isdisjoint(grams):
        return True
    if not whole:
        return False
    mine = prepare(text)
    for theirs in prepared:
        short, long = sorted((mine, theirs), key=len)
        if not short or _may_reach(short, long, cutoff, 0.0):
            return True
    return False


def _may_reach(short: str, long: str, cutoff: float, score: float) -> bool:
    """False when `partial_ratio(short, long)` cannot reach `max(cutoff, score)`, so it need not
    run (it costs about 40 times `ratio`). It is the best `ratio` of `short` with a window `w` of
    `long`, 200·LCS(short, w) / (|short| + |w|); a window holds at most L = LCS(short, long)
    of it, so none scores above 200·L / (|short| + L). On the labelled set and a scripted run's
    fields this ruled out 96-100% of the pairs; the verdicts are the same, by that bound."""
    common = LCSseq.similarity(short, long)
    return 200 * common / (len(short) + common) + 1e-9 >= max(cutoff, score)


def _repetition(rules: TextQuality, name: str, tokens: Sequence[str]) -> list[str]:
    """A word or word run repeated over and over (Gopher's top- and duplicate-n-gram shares)."""
    if len(tokens) < rules.repetition_min_words:
        return []
    content = [t for t in tokens if t not in FUNCTION_WORDS]
    if content:
        counts = Counter(content)
        count = max(counts.values())
        share = count / len(tokens)
        if count >= 3 and share > rules.max_top_word_share:
            top = next(word for word, seen in counts.items() if seen == count)  # the first said
            return [
                f"{REPETITION}: {name} repeats {top!r} {count} times ({share:.0%} of its words)"
            ]
    share = duplicate_ngram_share(tokens, rules.repetition_ngram)
    if share > rules.max_duplicate_ngram_share:
        return [
            f"{REPETITION}: {share:.0%} of {name} is {rules.repetition_ngram}-word runs it "
            "already said"
        ]
    return []


def duplicate_ngram_share(tokens: Sequence[str], n: int) -> float:
    """Share of characters inside word n-grams that already occurred (Gopher's duplicate n-gram
    character fraction; a repeated run is counted once per repeat, not per overlapping n-gram)."""
    if len(tokens) < 2 * n:
        return 0.0
    if len(set(zip(*(tokens[i:] for i in range(n)), strict=False))) == len(tokens) - n + 1:
        return 0.0  # no n-gram said twice: most fields
    total = sum(map(len, tokens))
    if total == 0:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeated = [False] * len(tokens)
    for start in range(len(tokens) - n + 1):
        gram = tuple(tokens[start : start + n])
        if gram in seen:
            for index in range(start, start + n):
                repeated[index] = True
        seen.add(gram)
    return sum(len(t) for t, flag in zip(tokens, repeated, strict=True) if flag) / total


def _dangling(text: str) -> bool:
    """True when the last word cannot end an English sentence ("...and we're.", "...for.")."""
    pieces = text.replace(CURLY_APOSTROPHE, "'").split()
    if not pieces:
        return False
    last = pieces[-1].lower().strip(".,;:!?\"')]")
    return last in DANGLING or (last.endswith("'s") and last not in FINISHED_POSSESSIVES)


def _repeated_sentences(rules: TextQuality, name: str, text: str) -> list[str]:
    """The same line, or the same sentence of 3+ words, said twice (Gopher's duplicate-line
    fraction; short fields repeat at the sentence, rarely the line)."""
    raw_lines = text.splitlines()
    lines = (
        [" ".join(line.lower().split()) for line in raw_lines if line.strip()]
        if len(raw_lines) > 1
        else raw_lines  # one line: nothing to repeat
    )
    if len(lines) > 1 and (len(lines) - len(set(lines))) / len(lines) > (
        rules.max_duplicate_line_fraction
    ):
        return [f"{REPEATED_SENTENCES}: {name} repeats {len(lines) - len(set(lines))} lines"]
    sentences = [" ".join(s.lower().strip(" .!?").split()) for s in SENTENCE.findall(text)]
    sentences = [s for s in sentences if len(s.split()) >= 3]
    if len(set(sentences)) == len(sentences):
        return []  # most fields
    repeated = sorted({s for s in sentences if sentences.count(s) > 1})
    if len(repeated) > rules.max_repeated_sentences:
        return [f"{REPEATED_SENTENCES}: {name} says {repeated[0]!r} more than once"]
    return []


@lru_cache(maxsize=1024)
def cue_pattern(cue: str) -> re.Pattern[str]:
    """A spec's pattern (a cue word, or a placeholder), compiled once, case-insensitive."""
    return re.compile(cue, re.IGNORECASE)


def _off_topic(rules: TextQuality, name: str, text: str) -> list[str]:
    for cue in rules.off_topic_cues.get(name, []):
        hit = cue_pattern(cue).search(text)
        if hit:
            return [f"{OFF_TOPIC}: {name} says {hit.group(0)!r}, which it must not ({cue})"]
    what = rules.topic_descriptions.get(name, "what the field is about")
    for cue in rules.required_topic_cues.get(name, []):
        if not cue_pattern(cue).search(text):
            return [f"{OFF_TOPIC}: {name} does not read as {what} (nothing matches {cue})"]
    cues = rules.topic_cues.get(name)
    if not cues:
        return []
    needed, found = rules.min_topic_cues.get(name, 1), 0
    for cue in cues:  # until enough are found: a miss scans the whole field
        found += bool(cue_pattern(cue).search(text))
        if found >= needed:
            return []
    return [f"{OFF_TOPIC}: {name} does not read as {what} ({found} of {needed} cues)"]


def item_problems(rules: TextQuality, fields: Mapping[str, str]) -> list[str]:
    """Every text-quality reason for one example's text fields."""
    reasons = [r for name, text in fields.items() for r in field_problems(rules, name, text)]
    return reasons + copied_fields(rules, fields)


def gate_of(reason: str) -> str | None:
    """The gate a reason came from, or None for a reason no text gate gives."""
    head = reason.split(":", 1)[0]
    return head if head in GATES else None


def labelled_rows(path: str | Path, fields: tuple[str, ...] = TEXT_FIELDS) -> list[dict[str, str]]:
    """A labelled set for tuning the gates (JSON lines: `label` "good" or a gate's name).

    A bad row may name a good `base` row and give only the field it breaks; the rest is copied.
    """
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    by_id = {row["id"]: row for row in rows}
    return [
        {**{k: by_id[row["base"]][k] for k in fields}, **row} if "base" in row else row
        for row in rows
    ]


def precision_recall(
    rules: TextQuality, rows: list[dict[str, str]], fields: tuple[str, ...]
) -> dict[str, dict[str, float | int]]:
    """Each gate's precision and recall on labelled rows (`label`: "good" or a gate's name).

    Precision: of the rows a gate flags, the share that are bad (any label but "good"); recall:
    of the rows labelled with the gate, the share it flags. "all" is every gate together.
    """
    flagged: dict[str, set[int]] = {gate: set() for gate in (*GATES, "all")}
    for index, row in enumerate(rows):
        for reason in item_problems(rules, {name: row[name] for name in fields}):
            gate = gate_of(reason)
            if gate is not None:
                flagged[gate].add(index)
                flagged["all"].add(index)
    bad = {i for i, row in enumerate(rows) if row["label"] != "good"}
    table: dict[str, dict[str, float | int]] = {}
    for gate, hits in flagged.items():
        labelled = bad if gate == "all" else {i for i in bad if rows[i]["label"] == gate}
        table[gate] = {
            "labelled": len(labelled),
            "flagged": len(hits),
            "precision": round(len(hits & bad) / len(hits), 3) if hits else 1.0,
            "recall": round(len(hits & labelled) / len(labelled), 3) if labelled else 1.0,
        }
    return table
