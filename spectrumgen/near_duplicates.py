"""The near-duplicate check at any size: a run's accepted responses, and which one a new response
repeats.

A response is a near-duplicate when its similarity to an accepted one (rapidfuzz's normalised
Indel ratio, 0-100, on texts `text_gates.prepare`d) reaches the spec's
`near_duplicate_similarity`. Comparing with every accepted response is one scan in C, about
0.4 us per response held: 0.4 ms per item at 1,000, but 8 ms at 20,000, so a long run's
batches slowed as it grew. From `INDEX_FROM` responses on, a MinHash LSH index over each text's
4-character shingles (datasketch's MinHash, banded as its MinHashLSH bands them: `BandIndex`)
names the few candidates worth comparing; those the character counts allow are scored, with the
same ratio and cut-off. Below `INDEX_FROM` every response is compared, exactly
as before, past an exact filter on character counts (`CharCounts`: it leaves out only texts that
cannot reach the cut-off).

The index can miss a pair the full scan would catch; it is tuned so that this is rare at the
similarities that matter. Two prepared texts at ratio 90 or more differ in at most a tenth of
their characters, and each edit breaks at most 4 shingles, so their shingle sets keep a Jaccard
similarity of about 0.5 or more (0.42 at the least, 0.48 for the lowest 1%, over 13,000 pairs
edited at random); an LSH threshold of 0.4 with 128 permutations (32 bands of 4 rows) finds a
pair at Jaccard 0.5 with probability 0.87, at 0.6 with 0.99 and at 0.7 with 0.99996. Measured
on two 20,000-example scripted runs: every one of 363 and 393 sampled near-duplicates found,
with 2% of the responses held as candidates per query (3-shingles found the same and named 5%,
which made a long run's last batches 5 ms slower); 1,393 of 1,500 pairs edited at random by up
to 25 characters (noise no model writes, and the worst case for shingles); 1,999 of 2,000 pairs
edited by up to 12 in `tests/test_near_duplicates.py`, which checks it.
"""

from __future__ import annotations

import zlib

import numpy as np
from datasketch import MinHash
from rapidfuzz import fuzz, process

from spectrumgen.text_gates import prepare

INDEX_FROM = 1_000
"""Responses held before the index is used: below, the full scan costs under 0.4 ms per item;
above, a query costs about 0.2 ms plus 4% of a full scan (the candidates)."""

SHINGLE = 4
PERMUTATIONS = 128
LSH_THRESHOLD = 0.4
# The bands datasketch's MinHashLSH chooses for that threshold and number of permutations.
BANDS, ROWS = 32, 4


def _hash(shingle: bytes) -> int:
    return zlib.crc32(shingle)  # 32 bits, as datasketch wants, and ten times faster than sha1


# Drawn once: datasketch draws a MinHash's permutations anew for each one unless given them
# (that took longer than hashing the text).
SCHEME = "affine32"  # datasketch's default: 32-bit hashes (`_hash`)
_PERMUTATIONS = MinHash(num_perm=PERMUTATIONS, seed=1, scheme=SCHEME).permutations


def minhash(prepared: str) -> MinHash:
    """The MinHash of a prepared text's character shingles."""
    signature = MinHash(
        num_perm=PERMUTATIONS, hashfunc=_hash, seed=1, permutations=_PERMUTATIONS, scheme=SCHEME
    )
    shingles = {prepared[i : i + SHINGLE] for i in range(max(1, len(prepared) - SHINGLE + 1))}
    signature.update_batch([s.encode() for s in shingles])
    return signature


# Characters are counted in this many buckets (a code point's bucket: it modulo BUCKETS); counts
# are kept as 16-bit integers, capped at COUNT_CAP.
BUCKETS = 32
COUNT_CAP = 30_000
# Below this many responses held, the scan compares every one without the count filter.
FILTER_FROM = 64


class CharCounts:
    """An exact filter for the full scan: each held text's characters counted per bucket.

    One insertion or deletion changes one character's count by one, so the Indel distance of
    two texts is at least the sum of the differences of their counts (bucketed and capped
    counts only shrink that sum). A text can reach ratio `cutoff` with another only when that
    sum is at most (1 - cutoff / 100) x (both lengths), so every other held text is left out
    before rapidfuzz compares: the verdicts are the full scan's. On a 1,000-example scripted
    run's responses it left about 3% of them to compare, and a check at 950 held took 88 us
    against 410 us (`python bench/run.py` measures the run as a whole).
    """

    def __init__(self) -> None:
        self.keys: list[str | None] = []  # by row; None for a row removed
        self.rows: dict[str, int] = {}
        self.counts = np.zeros((64, BUCKETS), dtype=np.int16)
        self.lengths = np.zeros(64, dtype=np.int64)

    def add(self, key: str, prepared: str) -> None:
        """Count a text (its key must not be held: `remove` it first)."""
        row = len(self.keys)
        if row == len(self.lengths):  # full: twice the room
            self.counts = np.concatenate([self.counts, np.zeros_like(self.counts)])
            self.lengths = np.concatenate([self.lengths, np.zeros_like(self.lengths)])
        self.counts[row] = _counts(prepared)
        self.lengths[row] = len(prepared)
        self.keys.append(key)
        self.rows[key] = row

    def remove(self, key: str) -> None:
        row = self.rows.pop(key, None)
        if row is not None:
            self.keys[row] = None

    def candidates(self, prepared: str, cutoff: float, rows: np.ndarray | None = None) -> list[str]:
        """The keys of the held texts that may reach `cutoff` with this one (among `rows` only,
        when given: the index's candidates), in the order they were added."""
        if rows is None:  # every row: a view, not a copy
            counts, lengths = self.counts[: len(self.keys)], self.lengths[: len(self.keys)]
        else:
            counts, lengths = self.counts[rows], self.lengths[rows]
        apart = np.abs(counts - _counts(prepared)).sum(axis=1, dtype=np.int64)
        allowed = (1 - cutoff / 100) * (lengths + len(prepared)) + 1  # 1: rounding
        kept = np.flatnonzero(apart <= allowed)
        if rows is not None:
            kept = rows[kept]
        return [key for key in (self.keys[row] for row in kept) if key is not None]


class BandIndex:
    """MinHash LSH over `CharCounts` rows: a text is a candidate for another when all `ROWS`
    values of one of their `BANDS` bands of MinHash values agree (datasketch's MinHashLSH, with
    the bands it picks for `LSH_THRESHOLD`). Each band is one dict from the band's bytes to
    the bucket's row numbers, packed in bytes (64-bit), which the garbage collector does not
    track: it sees 32 dicts. MinHashLSH kept a set per bucket, about 300,000 at 19,000
    responses, which every full collection walked. Rows of removed texts stay in their
    buckets; `CharCounts` knows them as removed."""

    def __init__(self) -> None:
        self.tables: list[dict[bytes, bytes]] = [{} for _ in range(BANDS)]

    def insert(self, row: int, signature: MinHash) -> None:
        """Index a row's MinHash."""
        packed = row.to_bytes(8, "little")
        for table, band in zip(self.tables, _bands(signature), strict=True):
            table[band] = table.get(band, b"") + packed

    def query(self, signature: MinHash) -> np.ndarray:
        """The rows sharing a band with this MinHash, in the order they were added."""
        found = [
            table.get(band) for table, band in zip(self.tables, _bands(signature), strict=True)
        ]
        rows = np.sort(np.frombuffer(b"".join(bucket for bucket in found if bucket), dtype="<i8"))
        # Each row once (np.unique's result, at a third of its cost: 45 us at 635 rows).
        first = np.ones(len(rows), dtype=bool)
        first[1:] = rows[1:] != rows[:-1]
        return rows[first]


def _bands(signature: MinHash) -> list[bytes]:
    """A MinHash's bands as bytes: `ROWS` consecutive values each (sliced from one copy)."""
    values = signature.hashvalues[: BANDS * ROWS].tobytes()
    width = len(values) // BANDS
    return [values[i : i + width] for i in range(0, len(values), width)]


def _counts(prepared: str) -> np.ndarray:
    points = np.frombuffer(prepared.encode("utf-32-le"), dtype=np.uint32) % BUCKETS
    return np.minimum(np.bincount(points, minlength=BUCKETS), COUNT_CAP).astype(np.int16)


class NearDuplicates:
    """Accepted responses by key (a scenario id); `closest` names the one a text repeats.

    Not thread-safe: the run's lanes use it under their shared lock (`graph.lanes`).
    """

    def __init__(self, cutoff: float, index_from: int = INDEX_FROM) -> None:
        self.cutoff = cutoff
        self.index_from = index_from
        self.texts: dict[str, str] = {}  # key -> prepared text
        self._index: BandIndex | None = None
        self._signatures: dict[str, MinHash] = {}  # of texts just checked, added next
        self._counts = CharCounts()  # the full scan's exact filter

    def __len__(self) -> int:
        return len(self.texts)

    def __contains__(self, key: object) -> bool:
        return key in self.texts

    @property
    def indexed(self) -> bool:
        """True once the index is in use (the run holds `index_from` responses or more; it is
        built at the first check after that, so a run that ends there never builds it)."""
        return self._index is not None or len(self.texts) >= self.index_from

    def add(self, key: str, text: str) -> None:
        """Hold one more accepted response (replacing one under the same key)."""
        if key in self.texts:
            self.remove(key)
        self.texts[key] = prepared = prepare(text)
        self._counts.add(key, prepared)
        if self._index is not None:
            signature = self._signatures.pop(prepared, None) or minhash(prepared)
            self._index.insert(self._counts.rows[key], signature)
        # Below the index size nothing is signed: building the index signs every response held
        # at once (154 ms at 1,000, once a run), where signing each ahead from half the size on
        # cost every run that passed 500 responses 115 ms, whether it built the index or not.

    def remove(self, key: str) -> None:
        """Forget a response (it did not make it into the ledger after all)."""
        self.texts.pop(key, None)
        self._counts.remove(key)  # and so from the index's candidates

    def closest(self, text: str) -> tuple[str, float] | None:
        """The key and similarity of the most similar response held at or over the cut-off."""
        prepared = prepare(text)
        if self._index is None and len(self.texts) >= self.index_from:
            self._build_index()
        if self._index is None and len(self.texts) < FILTER_FROM:
            candidates = self.texts
        elif self._index is None:  # the texts whose character counts allow the cut-off
            candidates = {k: self.texts[k] for k in self._counts.candidates(prepared, self.cutoff)}
        else:
            signature = minhash(prepared)
            self._remember(prepared, signature)
            # the index's candidates whose character counts allow the cut-off (a few of them)
            rows = self._index.query(signature)
            keys = self._counts.candidates(prepared, self.cutoff, rows)
            candidates = {key: self.texts[key] for key in keys}
        if not candidates:
            return None
        match = process.extractOne(
            prepared, candidates, scorer=fuzz.ratio, processor=None, score_cutoff=self.cutoff
        )
        return None if match is None else (match[2], match[1])

    def _remember(self, prepared: str, signature: MinHash) -> None:
        if len(self._signatures) >= 64:  # checked but never added: forget the oldest
            del self._signatures[next(iter(self._signatures))]
        self._signatures[prepared] = signature

    def _build_index(self) -> None:
        index = BandIndex()
        for key, prepared in self.texts.items():
            index.insert(self._counts.rows[key], minhash(prepared))
        self._index = index
