"""The spec: the parameter space, its derived values and rules, and its quotas, as validated data.

A spec has three axes with fixed roles (the character's capacity, the authenticity the example
should reach, and the kind of human messiness it shows); everything else -- buckets, ranges,
frequencies, rules, minimums and thresholds -- is data. The built-in `emotional_authenticity`
spec carries the seed's numbers exactly.
"""

from __future__ import annotations

import hashlib
import json
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

FREQUENCY_TOLERANCE = 1e-6
CAPACITY_SCALE = (0.0, 10.0)  # capacity and support are out of 10, as in the seed
AUTHENTICITY_SCALE = (0.0, 1.0)
MAX_BUCKETS = 200  # per axis: 200^3 cells is already far past what a ledger should plan over
MAX_TEXT_CHARS_RULE = 5_000


class _Strict(BaseModel):
    # No NaN or infinity anywhere: a range of .nan never contains anything, so a run would hang.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class NumberRange(_Strict):
    """A closed interval [low, high]."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def contains(self, value: float, tolerance: float = 1e-9) -> bool:
        """True when value lies inside the interval (ends included)."""
        return self.low - tolerance <= value <= self.high + tolerance


class CapacityLevel(_Strict):
    """How much emotional capacity the character has, out of 10."""

    name: str
    range: NumberRange
    frequency: float = Field(gt=0, le=1)
    description: str = ""
    min_examples: int = Field(default=0, ge=0)


class AuthenticityTarget(_Strict):
    """How authentic the example should read, and how much support the other person needs for it.

    `support_needed = clamp(effective_capacity + uniform(*support_offset), support_floor, scale)`,
    the seed's `_calculate_support_for_authenticity` written as data.
    """

    name: str
    range: NumberRange
    frequency: float = Field(gt=0, le=1)
    support_offset: NumberRange
    support_floor: float = Field(default=0.0, ge=0)
    description: str = ""
    rubric: str = Field(default="", description="What a judge looks for (default: description).")
    min_examples: int = Field(default=0, ge=0)


class ComplexityType(_Strict):
    """One kind of human messiness; frequency defaults to an equal share of the axis."""

    name: str
    description: str
    rubric: str = Field(default="", description="What a judge looks for (default: description).")
    frequency: float | None = Field(default=None, gt=0, le=1)
    min_examples: int = Field(default=0, ge=0)


class Axes(_Strict):
    """The three axes whose bucket combinations are the cells of the coverage ledger."""

    capacity_level: list[CapacityLevel] = Field(min_length=1, max_length=MAX_BUCKETS)
    authenticity_target: list[AuthenticityTarget] = Field(min_length=1, max_length=MAX_BUCKETS)
    complexity_type: list[ComplexityType] = Field(min_length=1, max_length=MAX_BUCKETS)

    @model_validator(mode="after")
    def _on_their_scales(self) -> Self:
        for axis_name, scale in (
            ("capacity_level", CAPACITY_SCALE),
            ("authenticity_target", AUTHENTICITY_SCALE),
        ):
            for index, bucket in enumerate(getattr(self, axis_name)):
                low, high = bucket.range.low, bucket.range.high
                if not (scale[0] <= low < high <= scale[1]):
                    raise ValueError(
                        f"axes.{axis_name}[{index}].range: {low:g}-{high:g} must be a range "
                        f"with low < high inside {scale[0]:g}-{scale[1]:g}"
                    )
        return self


class SupportRule(_Strict):
    """The shared rule: a character at capacity X can provide up to min(maximum, X + offset)."""

    capacity_offset: float = Field(default=2.0, ge=-CAPACITY_SCALE[1], le=CAPACITY_SCALE[1])
    maximum: float = Field(default=10.0, gt=0, le=CAPACITY_SCALE[1])

    def ceiling(self, effective_capacity: float) -> float:
        """The most support a character at this capacity can give."""
        return round(min(self.maximum, effective_capacity + self.capacity_offset), 2)


class TextQuality(_Strict):
    """The text-quality gates (`spectrumgen.text_gates`): degenerate, copied, off-topic text.

    Repetition measures follow Gopher (Rae et al. 2021, Table A1), rescaled for short fields;
    every number was set on the labelled set `tests/data/text_quality_labelled.jsonl` (see
    `bench/text_gates.py`), with where it comes from in its description.
    """

    enabled: bool = True
    min_words: dict[str, int] = Field(
        default_factory=lambda: {"context": 8, "response": 5, "reasoning": 8},
        description="Fewest words per field: a situation or a calculation needs a sentence.",
    )
    require_finished_sentences: bool = Field(
        default=True,
        description="Every field ends a sentence (. ! ? or a closing quote) on a word a sentence "
        "can end on (not 'the', 'and', 'we're'...): text cut off at a limit is not an example.",
    )
    repetition_min_words: int = Field(
        default=8, ge=1, description="Repetition is judged on fields of at least this many words."
    )
    max_top_word_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Most frequent content word's share of all words (3+ times). Gopher's top "
        "2-gram share is 0.20 for documents; single words in short fields, same bound.",
    )
    repetition_ngram: int = Field(default=3, ge=2, le=10)
    max_duplicate_ngram_share: float = Field(
        default=0.15,
        gt=0,
        le=1,
        description="Share of characters in word 3-grams already seen. Gopher: 0.15 for 5-grams "
        "in documents; every good field of the labelled set has 0 (short fields written by a "
        "person repeat no 3-word run), so 3-grams at Gopher's 0.15.",
    )
    variety_min_words: int = Field(
        default=12, ge=1, description="Variety and stop words are judged on fields this long."
    )
    min_distinct_word_ratio: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Distinct words / words (type-token ratio). Written English of 12-80 words "
        "sits at 0.6-0.9 in the labelled set; loops fall below 0.5.",
    )
    min_function_word_share: float = Field(
        default=0.12,
        ge=0,
        le=1,
        description="Share of common function words (the, to, I, you, is...). Gopher asks a "
        "document for 2 of 'the be to of and that have with', which misfires on short dialogue "
        "(10 of the 24 good examples fail it); good fields sit at 0.25+, word salad at 0.",
    )
    max_duplicate_line_fraction: float = Field(
        default=0.3, ge=0, le=1, description="Gopher's duplicate line fraction, 0.30."
    )
    max_repeated_sentences: int = Field(
        default=0,
        ge=0,
        description="Sentences of 3+ words said twice in one field: a writer of one to five "
        "sentences does not repeat one (none in the labelled set's good examples).",
    )
    max_broken_words: int = Field(
        default=0,
        ge=0,
        description="Words with two apostrophes or 's on a function word (and's), or numbers run "
        "together (8.3 7.5): token-stitching, never writing.",
    )
    max_unknown_words: int | None = Field(
        default=0,
        ge=0,
        description="Lower-case words in no English word list (wordfreq's, 321,000 words from "
        "Wikipedia, subtitles, books and the web; names are capitalised and not checked): "
        "'afamily', 'theidle', 'aonference', a small model gluing or inventing tokens. None of the "
        "labelled set's 34 good rows, the spec's exemplars or a scripted run has one; null turns "
        "the check off (another language, a domain full of jargon).",
    )
    max_glued_punctuation: int = Field(
        default=1, ge=0, description="Words run together through punctuation ('help,and')."
    )
    max_field_similarity: float = Field(
        default=75.0,
        gt=0,
        le=100,
        description="Similarity (0-100) at which one field copies another (reasoning or context "
        "vs response, reasoning vs context).",
    )
    max_shared_run_words: int = Field(
        default=6,
        ge=2,
        description="Two fields sharing a run of this many words copy a clause (the same rule as "
        "for exemplars). No two fields of a good labelled example share 5 words.",
    )
    max_echoed_trigrams: int = Field(
        default=1,
        ge=0,
        description="Three-word runs a response may repeat from its context. Someone answering "
        "does not parrot the request: 39 of the 40 good labelled examples and exemplars repeat "
        "none, one repeats one; a small model on topic only by echoing repeats 2-10.",
    )
    min_coherence_margin: float | None = Field(
        default=0.15,
        description="How much likelier (nats per token) a response must be after its own context "
        "than after any distractor context (`spectrumgen.coherence`); None turns it off. Run only "
        "where the writing model can score text (embedded). bench/coherence.py: with the request "
        "swapped (the embedded backend's contexts), no moved reply of 24 scores over +0.071 and "
        "18 of 24 matched ones keep +0.15; with exemplar contexts as distractors, no moved "
        "response of the labelled set's 34 good rows scores over +0.104, 22 of 34 keep +0.15.",
    )
    coherence_distractors: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Distractor contexts each response is tried after: its context asking for "
        "other requests of the spec's `asks` hints when it holds its own, else exemplar contexts.",
    )
    topic_cues: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per field, regexes of which `min_topic_cues` must match (case-insensitive).",
    )
    min_topic_cues: dict[str, int] = Field(default_factory=dict)
    required_topic_cues: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per field, regexes every one of which must match: a reasoning must say what "
        "the character gives or does, whatever else it names.",
    )
    off_topic_cues: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per field, regexes none of which may match: a response that speaks of 'the "
        "character' is narration, not the character's words.",
    )
    topic_descriptions: dict[str, str] = Field(
        default_factory=dict, description="What each field must read as, for the reason text."
    )

    @model_validator(mode="after")
    def _cues_compile(self) -> Self:
        import re

        listed = [self.topic_cues, self.required_topic_cues, self.off_topic_cues]
        for name, cues in [item for cues_by_field in listed for item in cues_by_field.items()]:
            for cue in cues:
                try:
                    re.compile(cue)
                except re.error as error:
                    raise ValueError(
                        f"topic_cues.{name}: {cue!r} is not a regex: {error}"
                    ) from None
        return self


class ExampleRules(_Strict):
    """Checks every generated example must pass."""

    min_text_chars: int = Field(default=20, ge=1, le=MAX_TEXT_CHARS_RULE)
    text_quality: TextQuality = TextQuality()
    near_duplicate_similarity: float = Field(default=90.0, gt=0, le=100)
    placeholder_patterns: list[str] = Field(
        default_factory=lambda: [
            r"lorem ipsum",
            r"^\s*(todo|tbd|n/?a|none|null|placeholder|xxx+|\.\.\.|example)\s*\.?\s*$",
            r"\[(insert|placeholder|your)[^\]]*\]",
            r"<[a-z_ ]+>",
        ]
    )

    @model_validator(mode="after")
    def _patterns_compile(self) -> Self:
        import re

        for index, pattern in enumerate(self.placeholder_patterns):
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(
                    f"placeholder_patterns[{index}]: {pattern!r} is not a regex: {error}"
                ) from None
        return self


class QualityThresholds(_Strict):
    """The seed's `quality_thresholds_enhanced`, named by bucket so any spec can use them."""

    min_examples: dict[str, int] = Field(default_factory=dict)
    max_share: dict[str, float] = Field(default_factory=dict)
    min_authenticity_spread: float = Field(default=0.0, ge=0, le=1)
    min_complexity_types: int = Field(default=0, ge=0)


class NumericalGrounding(_Strict):
    """The seed's numerical grounding (pending there): the reasoning must show its numbers.

    With `require_calculation_steps`, the reasoning states the capacity, the ceiling it allows
    and the gap between what is needed and what is given, and every number it ties to those
    words matches the example's fields. With `require_qualitative_anchors`, the reasoning or the
    response names how the character feels with a word from `anchors` for its capacity level.
    """

    require_calculation_steps: bool = False
    require_qualitative_anchors: bool = False
    anchors: dict[str, list[str]] = Field(default_factory=dict)
    check_stated_numbers: bool = Field(
        default=True,
        description="Even when the steps are not required, a number the reasoning writes after "
        "'capacity', 'ceiling', 'at most', 'up to' or 'gap' must not contradict the fields "
        "(within stated_tolerance): 'capacity 3 allows up to 2' is wrong data.",
    )
    stated_tolerance: float = Field(default=0.5, ge=0)

    @property
    def enabled(self) -> bool:
        """True when any check is on."""
        return (
            self.require_calculation_steps
            or self.require_qualitative_anchors
            or self.check_stated_numbers
        )


class ModelRouting(_Strict):
    """The seed's Phase 3 table: which model writes which complexity types, and the judge.

    Used when a run asks for it (`--route spec`); otherwise one model writes everything.
    """

    by_complexity: dict[str, str] = Field(default_factory=dict)
    default: str | None = Field(default=None, description="Model for types not listed.")
    judge: str | None = Field(default=None, description="Model that scores accepted examples.")
    min_judge_score: float = Field(default=0.6, ge=0, le=1)
    judge_score_tolerance: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="How far outside the target's range the judge's own authenticity estimate "
        "may fall before the example is rejected as off target.",
    )


class Exemplar(_Strict):
    """A complete hand-written example with its scenario's numbers, shown to the model for form.

    A prompt shows a few, chosen to differ from its batch's scenarios; they never enter the
    dataset, and a response or context too close to one is rejected as a near-duplicate.
    """

    capacity_level: str
    effective_capacity: float
    authenticity_target: str
    authenticity_score: float
    complexity_type: str
    support_needed: float
    support_provided: float
    hints: dict[str, str] = Field(
        default_factory=dict, description="The situation hints its context was built on."
    )
    context: str
    response: str
    reasoning: str


class Spec(_Strict):
    """A whole generation spec."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    version: int = 1
    description: str = ""
    character: str = Field(min_length=1, description="Who the examples are about, for the prompt.")
    axes: Axes
    support_rule: SupportRule = SupportRule()
    example_rules: ExampleRules = ExampleRules()
    quality_thresholds: QualityThresholds = QualityThresholds()
    model_routing: ModelRouting = ModelRouting()
    numerical_grounding: NumericalGrounding = NumericalGrounding()
    exemplars: list[Exemplar] = Field(default_factory=list)
    situation_hints: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Per hint (e.g. who, asks, when), phrases compose draws one of per scenario "
        "and the prompt shows, so situations vary on purpose instead of repeating one pattern.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for level in self.axes.capacity_level:
            if self.support_rule.ceiling(level.range.low) <= 0:
                raise ValueError(
                    f"support_rule.capacity_offset: {self.support_rule.capacity_offset:g} leaves a "
                    f"character at capacity {level.range.low:g} ({level.name}) no support to give"
                )
        for axis_name in ("capacity_level", "authenticity_target", "complexity_type"):
            names = self.bucket_names(axis_name)
            if len(set(names)) != len(names):
                raise ValueError(f"axes.{axis_name}: bucket names must be unique")
            total = sum(self.frequencies(axis_name).values())
            if abs(total - 1.0) > 1e-3:
                raise ValueError(f"axes.{axis_name}: frequencies sum to {total:.3f}, not 1")
        known = set(self.all_bucket_names())
        for field_name in ("min_examples", "max_share"):
            for bucket in getattr(self.quality_thresholds, field_name):
                if bucket not in known:
                    raise ValueError(f"quality_thresholds.{field_name}: unknown bucket {bucket!r}")
        for bucket, share in self.quality_thresholds.max_share.items():
            axis_name = self.axis_of(bucket)
            frequency = self.frequencies(axis_name)[bucket]
            if frequency > share + FREQUENCY_TOLERANCE:
                raise ValueError(
                    f"quality_thresholds.max_share.{bucket}: {share} is below the bucket's "
                    f"own frequency {frequency}, so the quota could never be met"
                )
        grounding = self.numerical_grounding
        for anchored in grounding.anchors:
            if anchored not in self.bucket_names("capacity_level"):
                raise ValueError(
                    f"numerical_grounding.anchors: unknown capacity level {anchored!r}"
                )
        if grounding.require_qualitative_anchors:
            missing = [
                c for c in self.bucket_names("capacity_level") if not grounding.anchors.get(c)
            ]
            if missing:
                raise ValueError(
                    f"numerical_grounding.anchors: no words for {', '.join(missing)}, which "
                    "require_qualitative_anchors needs"
                )
        for complexity in self.model_routing.by_complexity:
            if complexity not in self.bucket_names("complexity_type"):
                raise ValueError(f"model_routing.by_complexity: unknown type {complexity!r}")
        if self.quality_thresholds.min_complexity_types > len(self.axes.complexity_type):
            raise ValueError(
                "quality_thresholds.min_complexity_types: more than the spec's complexity types"
            )
        for hint, phrases in self.situation_hints.items():
            if hint in RESERVED_HINT_NAMES:
                raise ValueError(f"situation_hints.{hint}: the name is taken by a scenario field")
            if not phrases or not all(p.strip() for p in phrases):
                raise ValueError(f"situation_hints.{hint}: give at least one non-empty phrase")
        for index, exemplar in enumerate(self.exemplars):
            self._check_exemplar(f"exemplars[{index}]", exemplar)
        return self

    def _check_exemplar(self, where: str, exemplar: Exemplar) -> None:
        for axis_name in AXIS_NAMES:
            if getattr(exemplar, axis_name) not in self.bucket_names(axis_name):
                raise ValueError(f"{where}.{axis_name}: unknown {getattr(exemplar, axis_name)!r}")
        level = self.capacity(exemplar.capacity_level).range
        if not level.contains(exemplar.effective_capacity):
            raise ValueError(
                f"{where}.effective_capacity: {exemplar.effective_capacity} is outside "
                f"{exemplar.capacity_level}'s {level.low}-{level.high}"
            )
        target = self.authenticity(exemplar.authenticity_target).range
        if not target.contains(exemplar.authenticity_score):
            raise ValueError(
                f"{where}.authenticity_score: {exemplar.authenticity_score} is outside "
                f"{exemplar.authenticity_target}'s {target.low}-{target.high}"
            )
        ceiling = self.support_rule.ceiling(exemplar.effective_capacity)
        if not 0 <= exemplar.support_provided <= ceiling:
            raise ValueError(
                f"{where}.support_provided: {exemplar.support_provided} is outside 0-{ceiling}"
            )

    def bucket_names(self, axis_name: str) -> list[str]:
        """Names of one axis's buckets, in spec order."""
        return [bucket.name for bucket in getattr(self.axes, axis_name)]

    def all_bucket_names(self) -> list[str]:
        """Every bucket name of every axis."""
        return [name for axis in AXIS_NAMES for name in self.bucket_names(axis)]

    def axis_of(self, bucket: str) -> str:
        """The axis a bucket name belongs to."""
        for axis_name in AXIS_NAMES:
            if bucket in self.bucket_names(axis_name):
                return axis_name
        raise KeyError(bucket)

    def frequencies(self, axis_name: str) -> dict[str, float]:
        """Each bucket's share of the axis; complexity types without one share what is left."""
        buckets = getattr(self.axes, axis_name)
        given = {b.name: b.frequency for b in buckets if b.frequency is not None}
        missing = [b.name for b in buckets if b.frequency is None]
        if missing:
            rest = max(0.0, 1.0 - sum(given.values()))
            given.update({name: rest / len(missing) for name in missing})
        return given

    def floors(self, axis_name: str) -> dict[str, int]:
        """The least count of each bucket: its own minimum or the thresholds', whichever is more."""
        thresholds = self.quality_thresholds.min_examples
        return {
            b.name: max(b.min_examples, thresholds.get(b.name, 0))
            for b in getattr(self.axes, axis_name)
        }

    def capacity(self, name: str) -> CapacityLevel:
        """Look up a capacity level by name."""
        return next(b for b in self.axes.capacity_level if b.name == name)

    def authenticity(self, name: str) -> AuthenticityTarget:
        """Look up an authenticity target by name."""
        return next(b for b in self.axes.authenticity_target if b.name == name)

    def complexity(self, name: str) -> ComplexityType:
        """Look up a complexity type by name."""
        return next(b for b in self.axes.complexity_type if b.name == name)

    def content_hash(self) -> str:
        """A stable hash of the spec's content, so a resumed run can refuse a changed spec."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


AXIS_NAMES = ("capacity_level", "authenticity_target", "complexity_type")
# What a scenario line already says (schemas/prompts.py); situation hints take other names.
RESERVED_HINT_NAMES = frozenset(
    {
        "id",
        "capacity",
        "effective_capacity",
        "ceiling",
        "support_needed",
        "target",
        "score_range",
        "suggested_score",
        "type",
        "attempt",
        "situation",
        "fix",
    }
)
