"""text_similarity: every metric against values computed independently of openrft's code."""

from __future__ import annotations

import gzip
import json
import math
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sacrebleu
from nltk.tokenize import word_tokenize
from nltk.translate.gleu_score import sentence_gleu
from rapidfuzz import fuzz
from rouge_score.rouge_scorer import RougeScorer

from openrft.config import Settings
from openrft.graders import GraderRuntime, run_grader, run_grader_async
from openrft.graders import _text_similarity as ts
from openrft.graders._embeddings import embedder_key
from openrft.graders._text_similarity import METRICS, similarity, tokenize
from openrft.graders._wordnet import LEXNAMES, lexnames_text, wordnet
from openrft.models import RemoteEmbedder

NON_COSINE = [m for m in METRICS if m != "cosine"]
ROUGE = ["rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l"]
needs_wordnet = pytest.mark.needs("wordnet")
PAIRS = [
    ("The cat sat on the mat.", "The cat lay on a mat."),
    ("the quick brown fox jumps over the lazy dog", "a quick brown dog jumps over the lazy fox"),
    ("Paris is the capital of France", "The capital of France is Paris"),
]


class NoEmbedder:
    def embed(self, texts):
        raise AssertionError("blank texts must not be embedded")

    def close(self):
        pass


def _metrics_for(metric: str) -> list[Any]:
    return [pytest.param(metric, marks=needs_wordnet)] if metric == "meteor" else [metric]


ALL_NON_COSINE = [p for m in NON_COSINE for p in _metrics_for(m)]


# --- fuzzy_match -----------------------------------------------------------------------------


def test_fuzzy_match_by_hand():
    # kitten/sitting: LCS "ittn" = 4, Indel distance 6 + 7 - 2*4 = 5, similarity 1 - 5/13.
    assert similarity("fuzzy_match", "kitten", "sitting") == pytest.approx(1 - 5 / 13)
    assert similarity("fuzzy_match", "Paris", "paris") == pytest.approx(1 - 2 / 10)  # case counts


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_fuzzy_match_is_rapidfuzz_ratio(a, b):
    assert similarity("fuzzy_match", a, b) == pytest.approx(fuzz.ratio(a, b) / 100)


# --- bleu ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_bleu_is_sacrebleu_sentence_bleu(a, b):
    expected = sacrebleu.sentence_bleu(a, [b], smooth_method="exp", tokenize="13a").score / 100
    assert similarity("bleu", a, b) == pytest.approx(expected)


def test_bleu_partial_credit_by_hand():
    # 13a tokens: "the cat sat" vs "the cat ran": p1 = 2/3, p2 = 1/2, p3 = 0 -> exp smoothing
    # replaces the zero count with 1/2 (effective order 3, brevity penalty 1).
    expected = (2 / 3 * 1 / 2 * (1 / 2) / 1) ** (1 / 3)
    assert similarity("bleu", "the cat sat", "the cat ran") == pytest.approx(expected)


def test_bleu_identical_is_exactly_one():
    assert similarity("bleu", "the cat sat on the mat", "the cat sat on the mat") == 1.0  # clipped


# --- gleu ------------------------------------------------------------------------------------


def test_gleu_by_hand():
    # 1..4-grams: hypothesis 3 + 2 + 1 = 6, reference 6, shared: the, cat, "the cat" = 3.
    assert similarity("gleu", "the cat sat", "the cat ran") == pytest.approx(3 / 6)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_gleu_is_nltk_sentence_gleu(a, b):
    expected = sentence_gleu([word_tokenize(b, preserve_line=True)], word_tokenize(a, preserve_line=True))
    assert similarity("gleu", a, b) == pytest.approx(expected)


def test_tokenize_is_word_tokenize_without_punkt():
    text = "He said: don't pay $3.50 for it!"
    assert tokenize(text) == word_tokenize(text, preserve_line=True)
    assert tokenize("Hello world. Bye now.") == ["Hello", "world", ".", "Bye", "now", "."]


# --- meteor ----------------------------------------------------------------------------------


@needs_wordnet
def test_meteor_identical_by_hand():
    # P = R = 1, one chunk of 3 matches: penalty 0.5 * (1/3)^3, score 1 - 1/54.
    assert similarity("meteor", "the cat sat", "the cat sat") == pytest.approx(1 - 1 / 54)


@needs_wordnet
def test_meteor_matches_synonyms_through_wordnet():
    assert "quick" in {lemma.name() for s in wordnet().synsets("fast") for lemma in s.lemmas()}
    synonym = similarity("meteor", "a fast car", "a quick car")
    unrelated = similarity("meteor", "a blue car", "a quick car")
    # All three words match as one chunk with the synonym: (1 - 0.5/27); without it, 2 of 3.
    assert synonym == pytest.approx(1 - 0.5 / 27)
    assert unrelated < synonym
    assert unrelated == pytest.approx(_meteor_two_of_three())


def _meteor_two_of_three() -> float:
    # 2 of 3 words match ("a", "car") in 2 chunks: P = R = 2/3, penalty 0.5 * (2/2)^3.
    return (2 / 3) * (1 - 0.5)


@needs_wordnet
def test_wordnet_reader_is_wordnet_30():
    wn = wordnet()
    assert wn.get_version() == "3.0"
    assert wn.synset("dog.n.01").lexname() == "noun.animal"
    assert wn.synset("run.v.01").lexname() == "verb.motion"
    assert wn.synsets("running")  # morphology through the .exc files


def test_builtin_lexnames_match_the_wordnet_manual():
    manual = Path("/usr/share/man/man5/lexnames.5WN.gz")
    if not manual.is_file():
        pytest.skip("wordnet-base's lexnames(5WN) manual page is not installed")
    rows = re.findall(r"^(\d\d)\t(\S+)\s*\t", gzip.decompress(manual.read_bytes()).decode(), re.M)
    assert [name for _, name in rows] == list(LEXNAMES)
    assert lexnames_text().splitlines()[18] == "18\tnoun.person\t1"


# --- rouge -----------------------------------------------------------------------------------


def test_rouge_by_hand():
    pred, ref = "the cat sat on the mat", "the cat lay on a mat"
    # unigrams: the(min 2,1), cat, on, mat = 4 of 6 each side; bigrams: "the cat" = 1 of 5;
    # LCS: the cat on mat = 4.
    assert similarity("rouge_1", pred, ref) == pytest.approx(4 / 6)
    assert similarity("rouge_2", pred, ref) == pytest.approx(1 / 5)
    assert similarity("rouge_l", pred, ref) == pytest.approx(4 / 6)
    # precision 2/2, recall 2/6: F = 2PR / (P + R) = 0.5
    assert similarity("rouge_1", "the cat", "the cat sat on the mat") == pytest.approx(0.5)


@pytest.mark.parametrize("metric", ROUGE)
@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_rouge_is_rouge_score_fmeasure(metric, a, b):
    key = "rougeL" if metric == "rouge_l" else "rouge" + metric[-1]
    expected = RougeScorer([key]).score(b, a)[key].fmeasure
    assert similarity(metric, a, b) == pytest.approx(expected)


# --- every metric ----------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ALL_NON_COSINE)
def test_identical_and_disjoint(metric):
    same = "the committee approved the new budget for next year"
    expected = (1 - 0.5 * (1 / 9) ** 3) if metric == "meteor" else 1.0
    assert similarity(metric, same, same) == pytest.approx(expected)
    if metric != "fuzzy_match":  # the words differ, some characters do not
        assert similarity(metric, "alpha beta gamma", "zeta omicron sigma") == 0.0
    assert similarity(metric, "abc", "xyz") == 0.0


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("", "", 1.0), ("  \n", "", 1.0), ("", "text", 0.0), ("text", " ", 0.0)],
)
def test_empty_texts(metric, a, b, expected):
    assert similarity(metric, a, b, embedder=NoEmbedder()) == expected


@pytest.mark.parametrize("metric", ALL_NON_COSINE)
@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_deterministic_and_in_range(metric, a, b):
    first = similarity(metric, a, b)
    assert first == similarity(metric, a, b)
    assert 0.0 <= first <= 1.0


def test_unknown_metric():
    with pytest.raises(ValueError, match="unknown text_similarity metric"):
        similarity("bleurt", "a", "b")
    with pytest.raises(ValueError, match="unknown text_similarity metric"):
        similarity("bleurt", "", "")


# --- the grader ------------------------------------------------------------------------------


def _grader(metric: str) -> dict[str, Any]:
    return {"type": "text_similarity", "name": "sim", "input": "{{sample.output_text}}",
            "reference": "{{item.answer}}", "evaluation_metric": metric}  # fmt: skip


def test_grader_renders_templates():
    result = run_grader(_grader("rouge_1"), "the cat sat on the mat", {"answer": "the cat lay on a mat"})
    assert result.reward == pytest.approx(4 / 6)
    assert result.metadata.type == "text_similarity"
    assert result.metadata.errors.raised() == []


def test_grader_missing_variable_is_flagged():
    result = run_grader(_grader("fuzzy_match"), "x", {})
    assert result.reward == 0.0
    assert result.metadata.errors.invalid_variable_error


async def test_warm_short_grades_skip_the_thread_hop(monkeypatch):
    similarity("fuzzy_match", "warm", "up")

    async def no_thread(*args):
        raise AssertionError("a warm fuzzy_match grade must run inline")

    monkeypatch.setattr(ts, "run_blocking", no_thread)
    result = await run_grader_async(_grader("fuzzy_match"), "kitten", {"answer": "sitting"})
    assert result.reward == pytest.approx(1 - 5 / 13)
    long = "word " * 1000
    result = await run_grader_async(_grader("fuzzy_match"), long, {"answer": long})
    assert result.metadata.errors.other_error  # a long text goes through the (broken) thread hop


# --- cosine ----------------------------------------------------------------------------------

VECTORS = {
    "north": [1.0, 0.0, 0.0],
    "north-east": [0.6, 0.8, 0.0],  # cos(north, north-east) = 0.6
    "south": [-1.0, 0.0, 0.0],  # cos(north, south) = -1 -> clipped to 0
    "scaled north": [3.0, 0.0, 0.0],  # not unit length: cos(north, scaled north) = 1
}


class _EmbeddingsHandler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": VECTORS[t]} for i, t in enumerate(texts)]
        payload = json.dumps({"object": "list", "data": data[::-1], "model": body["model"],
                              "usage": {"prompt_tokens": 2, "total_tokens": 2}}).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def embeddings_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    requests: list[dict[str, Any]] = []
    handler = type("Handler", (_EmbeddingsHandler,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", requests
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [("north", "north-east", 0.6), ("north", "south", 0.0), ("north", "scaled north", 1.0)],
)
def test_cosine_through_an_openai_compatible_endpoint(embeddings_server, a, b, expected):
    base_url, requests = embeddings_server
    settings = Settings(embeddings_base_url=base_url, embeddings_api_key="sk-test",
                        embeddings_model="text-embedding-3-large")  # fmt: skip
    with GraderRuntime(settings) as runtime:
        result = run_grader(_grader("cosine"), a, {"answer": b}, runtime=runtime)
    assert result.metadata.errors.raised() == []
    assert result.reward == pytest.approx(expected)
    assert requests == [{"path": "/v1/embeddings", "auth": "Bearer sk-test", "input": [a, b],
                         "model": "text-embedding-3-large", "encoding_format": "float"}]  # fmt: skip


def test_cosine_endpoint_down_is_other_error():
    settings = Settings(embeddings_base_url="http://127.0.0.1:9/v1", embeddings_api_key="k")
    with GraderRuntime(settings) as runtime:
        down = RemoteEmbedder("http://127.0.0.1:9/v1", "m", "k", max_retries=0)
        runtime.resource(embedder_key(settings), lambda: down)
        result = run_grader(_grader("cosine"), "a", {"answer": "b"}, runtime=runtime)
    assert result.reward == 0.0
    assert result.metadata.errors.other_error


def test_cosine_of_by_hand():
    assert ts.cosine_of([1.0, 2.0], [2.0, 4.0]) == pytest.approx(1.0)
    assert ts.cosine_of([1.0, 0.0], [1.0, 1.0]) == pytest.approx(1 / math.sqrt(2))
    assert ts.cosine_of([0.0, 0.0], [1.0, 1.0]) == 0.0


@pytest.mark.slow
def test_cosine_local_model():
    from sentence_transformers import SentenceTransformer

    from openrft.models import LocalEmbedder, local_model_dir

    embedder = LocalEmbedder()
    try:
        paraphrase = similarity("cosine", "A man is playing a guitar.", "Someone plays the guitar.",
                                embedder=embedder)  # fmt: skip
        unrelated = similarity("cosine", "A man is playing a guitar.", "The stock market fell today.",
                               embedder=embedder)  # fmt: skip
        assert paraphrase > 0.6 > unrelated
        again = similarity("cosine", "A man is playing a guitar.", "Someone plays the guitar.",
                           embedder=embedder)  # fmt: skip
        assert again == paraphrase
        assert len(embedder.embed(["one", "two", "three"])[2]) == 384
    finally:
        embedder.close()
    model = SentenceTransformer(str(local_model_dir()), device="cpu", local_files_only=True)
    a, b = model.encode(
        ["A man is playing a guitar.", "Someone plays the guitar."], normalize_embeddings=True
    )
    assert paraphrase == pytest.approx(float(a @ b), abs=1e-6)
