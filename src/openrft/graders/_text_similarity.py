"""``text_similarity``: score ``input`` against ``reference`` with one metric, in [0, 1] (reference §2.2).

OpenAI names each metric and its library but not the settings, so each choice is fixed and
documented here (and in ``docs/text-similarity.md``). Every scorer is a well-kept library,
deterministic and offline:

``fuzzy_match``
    ``rapidfuzz.fuzz.ratio(input, reference) / 100``, no preprocessing: the normalised Indel
    similarity ``1 - (insertions + deletions) / (len(input) + len(reference))`` over characters.
    Symmetric and predictable; case and punctuation count as edits. ``WRatio`` (the guide's
    python-grader example) was not chosen: it gives 0.9 to any text that merely *contains* the
    reference, which rewards padding.
``bleu``
    sacrebleu sentence BLEU (``BLEU(effective_order=True).sentence_score``, identical to
    ``sacrebleu.sentence_bleu`` with its defaults) / 100: the standard ``13a`` tokenizer, case
    kept, n-grams up to 4, ``exp`` smoothing. That is sacrebleu's default and its recommended
    setting for single sentences: it gives partial credit to short texts with no 4-gram match
    (``floor``/``add-k`` depend on an arbitrary constant), and effective order lets texts shorter
    than 4 tokens reach 1.0. All smoothing methods are deterministic.
``gleu``
    ``nltk.translate.gleu_score.sentence_gleu([ref_tokens], input_tokens)`` (n = 1..4), on the
    tokens of :func:`tokenize`.
``meteor``
    ``nltk.translate.meteor_score.meteor_score([ref_tokens], input_tokens)`` with NLTK's defaults
    (lower-casing, Porter stemmer, alpha 0.9, beta 3, gamma 0.5) and WordNet 3.0 from Debian's
    ``wordnet-base`` (:mod:`openrft.graders._wordnet`). Note METEOR's fragmentation penalty keeps
    identical texts just below 1 (three words: 0.981).
``rouge_1`` … ``rouge_5``, ``rouge_l``
    ``rouge_score.rouge_scorer.RougeScorer(["rougeN" | "rougeL"])`` with the library's defaults
    (no stemmer; its tokenizer lower-cases and keeps only ``[a-z0-9]`` runs, so text in other
    scripts has no tokens and scores 0), ``score(target=reference, prediction=input)``, F-measure.
``cosine``
    The cosine of the two texts' embeddings, clipped to [0, 1] (a negative cosine means
    "unrelated", not "half similar", so it maps to 0 rather than through ``(1 + cos) / 2``). The
    embeddings come from :mod:`openrft.graders._embeddings`: the packaged all-MiniLM-L6-v2 by
    default, or an OpenAI-compatible ``/v1/embeddings`` endpoint when configured.

Empty input: a text that is empty or only whitespace gives 1.0 when both are empty and 0.0 when
only one is, for every metric (no library is called; embeddings endpoints reject empty input).
Every score is clipped to [0, 1] (sacrebleu reports identical texts as 100.00000000000004).

Speed: the libraries are imported and their scorers built on first use. In the async grader,
a metric that is already loaded runs inline on short texts (no thread hop: fuzzy_match and
rouge grade at tens of thousands per second); the first use of a metric, texts longer than
:data:`INLINE_MAX_CHARS`, and ``cosine`` run through :func:`run_blocking`.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz

from openrft.graders._results import Grade
from openrft.graders._runtime import run_blocking
from openrft.graders._template import render

if TYPE_CHECKING:
    from openrft.graders._embeddings import Embedder
    from openrft.graders._runtime import GraderRuntime
    from openrft.graders._schema import TextSimilarityGrader

METRICS: tuple[str, ...] = (
    "fuzzy_match", "bleu", "gleu", "meteor", "cosine",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
)  # fmt: skip
INLINE_MAX_CHARS = 4000
"""Above this many characters (input plus reference) a metric runs in a worker thread."""

_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_lock = threading.Lock()
_cache: dict[str, Any] = {}
_ready: set[str] = set()
"""Metrics computed at least once in this process: their libraries are loaded."""


def _cached(key: str, build: Callable[[], Any]) -> Any:
    """A library object built once per process (scorers, tokenizers)."""
    value = _cache.get(key)
    if value is None:
        with _lock:
            value = _cache.get(key)
            if value is None:
                value = _cache[key] = build()
    return value


def _word_tokenizer() -> Any:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def tokenize(text: str) -> list[str]:
    """Words for the NLTK metrics (gleu, meteor): ``nltk.word_tokenize`` without punkt.

    ``word_tokenize`` splits sentences with punkt (data that only ``nltk.download`` provides),
    then runs ``NLTKWordTokenizer`` on each. Here sentences end at ``.``, ``!`` or ``?`` followed
    by whitespace, and each is tokenized with the same ``NLTKWordTokenizer``; the result equals
    ``word_tokenize`` except after abbreviations (``Dr. Smith`` gives ``Dr``, ``.``).
    """
    tokenizer = _cached("nltk_words", _word_tokenizer)
    return [
        token for sentence in _SENTENCE_BREAK.split(text.strip()) for token in tokenizer.tokenize(sentence)
    ]


def fuzzy_match(input: str, reference: str) -> float:
    """rapidfuzz ``fuzz.ratio`` / 100: normalised character Indel similarity."""
    return fuzz.ratio(input, reference) / 100.0


def _bleu_metric() -> Any:
    from sacrebleu.metrics import BLEU

    return BLEU(effective_order=True)  # 13a tokenizer, exp smoothing, max order 4, cased


def bleu(input: str, reference: str) -> float:
    """sacrebleu sentence BLEU / 100 (``sacrebleu.sentence_bleu`` defaults)."""
    return float(_cached("bleu", _bleu_metric).sentence_score(input, [reference]).score) / 100.0


def gleu(input: str, reference: str) -> float:
    """NLTK ``sentence_gleu`` (n-grams 1..4) on :func:`tokenize` tokens."""
    from nltk.translate.gleu_score import sentence_gleu

    return float(sentence_gleu([tokenize(reference)], tokenize(input)))


def meteor(input: str, reference: str) -> float:
    """NLTK ``meteor_score`` with its defaults and WordNet 3.0 from ``wordnet-base``."""
    from nltk.translate.meteor_score import meteor_score

    from openrft.graders._wordnet import wordnet

    return float(meteor_score([tokenize(reference)], tokenize(input), wordnet=wordnet()))


def _rouge_scorer(rouge_type: str) -> Any:
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer([rouge_type])  # library defaults: use_stemmer=False, default tokenizer


def rouge(rouge_type: str, input: str, reference: str) -> float:
    """rouge-score F-measure of ``rouge_type`` (``rouge1`` … ``rouge5``, ``rougeL``)."""
    scorer = _cached(rouge_type, partial(_rouge_scorer, rouge_type))
    return float(scorer.score(target=reference, prediction=input)[rouge_type].fmeasure)


def cosine_of(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of two vectors clipped to [0, 1]; 0.0 when either vector is all zeros."""
    if len(a) != len(b):
        raise ValueError(f"embeddings differ in length: {len(a)} and {len(b)}")
    norm = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    if norm == 0.0:
        return 0.0
    return _clip(math.fsum(x * y for x, y in zip(a, b, strict=True)) / norm)


def cosine(input: str, reference: str, embedder: Embedder) -> float:
    """Cosine similarity of the two texts' embeddings, clipped to [0, 1]."""
    vectors = embedder.embed([input, reference])
    if len(vectors) != 2:
        raise ValueError(f"the embedder returned {len(vectors)} vectors for 2 texts")
    return cosine_of(vectors[0], vectors[1])


_SCORERS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    **{f"rouge_{n}": partial(rouge, f"rouge{n}") for n in range(1, 6)},
    "rouge_l": partial(rouge, "rougeL"),
}


def _clip(value: float) -> float:
    return 0.0 if value < 0.0 else 1.0 if value > 1.0 else value


def _blank(text: str) -> bool:
    return not text or text.isspace()


def _default_embedder() -> Embedder:
    from openrft.graders._default import default_runtime
    from openrft.graders._embeddings import runtime_embedder

    return runtime_embedder(default_runtime())


def similarity(metric: str, input: str, reference: str, *, embedder: Embedder | None = None) -> float:
    """The ``metric`` score of ``input`` against ``reference``, in [0, 1].

    ``embedder`` is used by ``cosine`` only; without one, the process-wide default runtime's
    embedder is used (configured by ``OPENRFT_EMBEDDINGS_*``). Raises ``ValueError`` for an
    unknown metric.

    >>> similarity("fuzzy_match", "kitten", "sitting")
    0.6153846153846154
    >>> similarity("rouge_1", "the cat sat", "the cat ran")
    0.6666666666666666
    """
    if _blank(input) or _blank(reference):
        if metric not in METRICS:
            raise ValueError(f"unknown text_similarity metric {metric!r}; use one of {', '.join(METRICS)}")
        return 1.0 if _blank(input) and _blank(reference) else 0.0
    if metric == "cosine":
        return cosine(input, reference, embedder or _default_embedder())
    scorer = _SCORERS.get(metric)
    if scorer is None:
        raise ValueError(f"unknown text_similarity metric {metric!r}; use one of {', '.join(METRICS)}")
    score = _clip(scorer(input, reference))
    _ready.add(metric)
    return score


def _runs_inline(metric: str, input: str, reference: str) -> bool:
    """Whether a grade is cheap enough to compute on the event loop."""
    return metric in _ready and len(input) + len(reference) <= INLINE_MAX_CHARS


async def grade_text_similarity(grader: TextSimilarityGrader, sample: dict[str, Any],
                                item: dict[str, Any], rt: GraderRuntime) -> Grade:  # fmt: skip
    """Render ``input`` and ``reference`` and score them; template errors propagate to the runner."""
    text = render(grader.input, sample=sample, item=item)
    reference = render(grader.reference, sample=sample, item=item)
    metric = grader.evaluation_metric
    if metric == "cosine":
        if _blank(text) or _blank(reference):
            return Grade(reward=similarity(metric, text, reference))
        from openrft.graders._embeddings import runtime_embedder

        embedder = await run_blocking(runtime_embedder, rt)  # the first call loads the model
        return Grade(reward=await run_blocking(cosine, text, reference, embedder))
    if _runs_inline(metric, text, reference):
        return Grade(reward=similarity(metric, text, reference))
    return Grade(reward=await run_blocking(similarity, metric, text, reference))
