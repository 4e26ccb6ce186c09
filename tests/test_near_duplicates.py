"""The near-duplicate check at scale: the LSH index agrees with comparing every response."""

from __future__ import annotations

import gc
import random

from datasketch import MinHashLSH
from rapidfuzz import fuzz, process

from spectrumgen.llm.scripted import write_example
from spectrumgen.near_duplicates import (
    BANDS,
    LSH_THRESHOLD,
    PERMUTATIONS,
    ROWS,
    BandIndex,
    CharCounts,
    NearDuplicates,
    minhash,
)
from spectrumgen.text_gates import prepare

CUTOFF = 90.0


def responses(count: int, seed: int) -> list[str]:
    """Responses as the scripted model writes them: one template, so many are close."""
    rng = random.Random(seed)
    scenario = {
        "id": "s",
        "effective_capacity": 5.0,
        "ceiling": 7.0,
        "support_needed": 6.0,
        "target": "authentic",
        "type": "baseline",
        "capacity": "medium",
        "suggested_score": 0.9,
    }
    return [str(write_example(scenario, rng)["response"]) for _ in range(count)]


def edited(text: str, rng: random.Random) -> str:
    """The text with a few characters changed, inserted or deleted."""
    chars = list(text)
    for _ in range(rng.randint(1, 12)):
        at = rng.randrange(len(chars))
        roll = rng.random()
        if roll < 0.33:
            chars.insert(at, rng.choice("abcdefghij "))
        elif roll < 0.66 and len(chars) > 1:
            del chars[at]
        else:
            chars[at] = rng.choice("abcdefghij ")
    return "".join(chars)


def full_scan(text: str, held: dict[str, str]) -> tuple[str, float] | None:
    match = process.extractOne(
        prepare(text), held, scorer=fuzz.ratio, processor=None, score_cutoff=CUTOFF
    )
    return None if match is None else (match[2], match[1])


def test_below_the_index_size_every_verdict_is_the_full_scans() -> None:
    texts = responses(400, seed=1)
    checker = NearDuplicates(CUTOFF)
    for number, text in enumerate(texts):
        assert checker.closest(text) == full_scan(text, checker.texts)
        if checker.closest(text) is None:
            checker.add(f"s{number}", text)
    assert not checker.indexed
    assert 0 < len(checker) < len(texts)  # the template repeats: some were near-duplicates


def test_the_index_finds_what_the_full_scan_finds_and_nothing_it_does_not() -> None:
    rng = random.Random(7)
    held = responses(3_000, seed=2)
    checker = NearDuplicates(CUTOFF, index_from=500)
    for number, text in enumerate(held):
        checker.add(f"s{number}", text)
    assert checker.indexed and len(checker) == len(held)

    queries = [edited(rng.choice(held), rng) for _ in range(400)] + responses(200, seed=3)
    agree = caught = missed = 0
    for query in queries:
        exact = full_scan(query, checker.texts)
        found = checker.closest(query)
        if found is not None:  # whatever the index names is a real near-duplicate
            assert fuzz.ratio(prepare(query), checker.texts[found[0]]) >= CUTOFF
        if exact is None:
            assert found is None
            agree += 1
        elif found is None:
            missed += 1
        else:
            caught += 1
            assert found[1] == exact[1]  # the closest, or one as close
    assert caught > 300
    assert missed <= 0.01 * (caught + missed), (caught, missed)


def test_a_removed_response_is_never_named_again() -> None:
    held = responses(600, seed=4)
    checker = NearDuplicates(CUTOFF, index_from=100)
    for number, text in enumerate(held):
        checker.add(f"s{number}", text)
    checker.remove("s5")
    assert "s5" not in checker
    match = checker.closest(held[5])
    assert match is None or match[0] != "s5"
    checker.add("s5", held[5])
    assert checker.closest(held[5]) is not None
    assert checker.closest(held[5])[1] == 100.0  # type: ignore[index]


def test_the_character_count_filter_keeps_every_text_that_could_reach_the_cutoff() -> None:
    rng = random.Random(3)
    base = [*responses(60, seed=5), "Ça va, Zoë? Ich wäre gern dabei, aber heute nicht. 😊 " * 2]
    held = {f"s{i}": prepare(edited(rng.choice(base), rng)) for i in range(300)}
    counts = CharCounts()
    for key, text in held.items():
        counts.add(key, text)
    counts.remove("s7")  # a removed text is never a candidate
    del held["s7"]
    left_out = 0
    for cutoff in (70.0, 85.0, 90.0, 97.0):
        for _ in range(40):
            query = prepare(edited(rng.choice(base), rng))
            kept = counts.candidates(query, cutoff)
            reaching = [k for k, text in held.items() if fuzz.ratio(query, text) >= cutoff]
            assert set(reaching) <= set(kept)
            assert kept == [k for k in held if k in set(kept)]  # in the order they were added
            left_out += len(held) - len(kept)
    assert left_out > 40 * len(held)  # and it does filter: over a quarter of all pairs


def test_the_index_gives_the_garbage_collector_nothing_to_walk_per_response() -> None:
    # A container per bucket (datasketch's MinHashLSH kept a set each: about 300,000 at 19,000
    # responses) made every full collection of a long run's process walk them all.
    texts = responses(2_000, seed=4)
    checker = NearDuplicates(CUTOFF, index_from=100)
    gc.collect()
    before = len(gc.get_objects())
    for number, text in enumerate(texts):
        checker.add(f"s{number}", text)
    assert checker.closest(texts[0]) is not None and checker.indexed
    gc.collect()
    assert len(gc.get_objects()) - before < 100


def test_the_index_bands_as_datasketch_would_for_its_threshold() -> None:
    lsh = MinHashLSH(threshold=LSH_THRESHOLD, num_perm=PERMUTATIONS)
    assert (lsh.b, lsh.r) == (BANDS, ROWS)


def test_the_index_names_each_row_sharing_a_band_once_in_the_order_added() -> None:
    # What datasketch's MinHashLSH.query names: every row that shares at least one band.
    texts = responses(300, seed=5)
    index, lsh = BandIndex(), MinHashLSH(threshold=LSH_THRESHOLD, num_perm=PERMUTATIONS)
    for row, text in enumerate(texts[:250]):
        signature = minhash(prepare(text))
        index.insert(row, signature)
        lsh.insert(row, signature)
    named = 0
    for text in texts[200:]:
        signature = minhash(prepare(text))
        rows = index.query(signature)
        assert rows.tolist() == sorted(lsh.query(signature))
        named += len(rows)
    assert named > 50  # the queries named rows (the first 50 are in the index themselves)
    assert BandIndex().query(minhash(prepare(texts[0]))).tolist() == []
