"""Generation in slices: one request's batch and KV cache kept between calls to ``generate``.

A :class:`Generation` is one request: its prompts, ``n`` rows per prompt and its limits.
:meth:`LocalChatModel.advance` runs it for one slice (until its tokens run out, every row ends, it is
cancelled, its deadline passes, or its time slice is over while another request waits) and
keeps the cache, so the next slice costs no prefill. Each sampled token reaches the
generation's listener as it is made (a ``generate`` streamer), which is what streamed chat
sends. :class:`~openrft.models._scheduler.GenerationScheduler` takes turns between the
generations of one model; :meth:`LocalChatModel.generate` runs one in a single slice.

Why slices and not transformers' continuous batching: requests here differ in sampling
settings, output constraint, logit bias and LoRA adapter, all of which a continuous batch
shares between its requests.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from openrft.errors import InvalidRequestError
from openrft.models._tools import ToolCall

if TYPE_CHECKING:
    import torch

    from openrft.models._tools import ToolFormat


@dataclass(frozen=True)
class Completion:
    """One generated answer with OpenAI-style accounting."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    """Generated tokens, the end-of-sequence token included when the model stopped."""
    finish_reason: str
    """``stop`` (the model ended its turn) or ``length`` (``max_tokens`` or ``max_time`` hit)."""
    reasoning_tokens: int = 0
    """Tokens of the completion spent inside ``<think>…</think>`` (counted in ``completion_tokens``)."""
    token_ids: tuple[int, ...] = ()
    """The generated token ids, the end-of-sequence token included when the model stopped."""
    logprobs: tuple[float, ...] | None = None
    """Log-probability of each of ``token_ids`` under the model (raw logits, before temperature and
    constraints, as vLLM reports them by default); only when asked for."""
    top_logprobs: tuple[tuple[tuple[int, float], ...], ...] | None = None
    """Per position, the ``(token id, log-probability)`` of the most likely tokens; when asked for."""
    tool_calls: tuple[ToolCall, ...] = ()
    """Function calls parsed from the answer when tools were given (``text`` is what is left)."""
    cached_tokens: int = 0
    """Prompt tokens a remote endpoint served from its cache (``prompt_tokens_details.cached_tokens``)."""
    refusal: str | None = None
    """A remote model's refusal message (OpenAI's ``message.refusal``)."""
    model: str | None = None
    """The model a remote endpoint says answered (OpenAI names the dated snapshot); None locally."""


Listener = Callable[[int, int], None]
"""Called with ``(row, token id)`` for each token as it is sampled (on the generating thread)."""

Scored = tuple[list[float], list[tuple[tuple[int, float], ...]]]
"""One row's log-probabilities: of each token, and of the likeliest alternatives at each position."""

CompletionMaker = Callable[[list[int], int, str, "Scored | None"], Completion]
"""Decodes one row: ``(token ids, prompt tokens, prompt text, log-probabilities)`` → a completion."""


@contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """Eval mode for the duration, then every submodule's own ``training`` flag back."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Seeded draws on a fork of torch's generators: the caller's random state is left as it was."""
    if seed is None:
        yield
        return
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def chosen_logprobs(logits: Sequence[torch.Tensor], generated: torch.Tensor, top: int) -> list[Scored]:
    """Per row: the log-probability of each generated token and the ``top`` most likely ones.

    ``logits`` are ``generate``'s raw per-step logits (``output_logits``), one ``(rows, vocab)``
    tensor per step.
    """
    import torch

    steps = torch.stack(list(logits), dim=1).float().log_softmax(dim=-1)  # rows, steps, vocab
    chosen = steps.gather(-1, generated[:, : steps.shape[1], None]).squeeze(-1).tolist()
    alternatives: list[list[tuple[tuple[int, float], ...]]] = [[] for _ in chosen]
    if top > 0:
        values, ids = steps.topk(min(top, steps.shape[-1]), dim=-1)
        for row, (row_values, row_ids) in enumerate(zip(values.tolist(), ids.tolist(), strict=True)):
            pairs = zip(row_ids, row_values, strict=True)
            alternatives[row] = [tuple(zip(i, v, strict=True)) for i, v in pairs]
    return list(zip(chosen, alternatives, strict=True))


@dataclass
class _Row:
    """One answer being written."""

    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    top: list[tuple[tuple[int, float], ...]] = field(default_factory=list)
    ended: bool = False
    """The end-of-sequence token was sampled."""


@dataclass
class _Tensors:
    """What ``generate`` continues from: every row's ids so far, their mask and the KV cache."""

    ids: torch.Tensor
    mask: torch.Tensor
    prompt_width: int
    cache: Any = None


@dataclass(eq=False)
class Generation:
    """One request: ``n`` answers to each prompt (token ids), advanced a slice at a time.

    ``max_time`` (seconds from creation, queueing included) ends every row with
    ``finish_reason`` ``length``; :meth:`cancel` ends it between two tokens.
    """

    prompt_ids: Sequence[Sequence[int]]
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int | None = None
    regex: str | None = None
    adapter: str | None = None
    logprobs: int | None = None
    logit_bias: Mapping[int, float] | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    max_time: float | None = None
    listener: Listener | None = None
    prompt_texts: Sequence[str] | None = None
    tool_format: ToolFormat | None = None
    """How the model writes tool calls, when tools were given (calls are parsed from the answers)."""
    tool_names: tuple[str, ...] = ()
    on_finished: Callable[[], None] | None = None
    """Called once the generation is over (from the thread that ran it)."""
    rows: list[_Row] = field(init=False)
    slices: int = field(default=0, init=False)
    error: BaseException | None = field(default=None, init=False)
    _tensors: _Tensors | None = field(default=None, init=False, repr=False)
    _processors: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.prompt_ids = [list(map(int, row)) for row in self.prompt_ids]
        self.rows = [_Row() for _ in range(len(self.prompt_ids) * self.n)]
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        """Set once the generation is over (done or failed) and its scheduler has let go of it."""
        self.deadline = None if self.max_time is None else time.monotonic() + self.max_time

    def cancel(self) -> None:
        """Stop at the next token (a generation not started yet never starts)."""
        self.cancelled.set()

    @property
    def tool_marker(self) -> str | None:
        """The text that opens a tool call in this generation's answers."""
        return self.tool_format.open if self.tool_format is not None else None

    @property
    def timed_out(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    @property
    def done(self) -> bool:
        if self.cancelled.is_set() or self.timed_out or self.error is not None:
            return True
        return all(row.ended or len(row.tokens) >= self.max_tokens for row in self.rows)

    def completions(self, make: CompletionMaker) -> list[list[Completion]]:
        """The answers so far, ``n`` per prompt, in order (``make`` decodes one row)."""
        texts = self.prompt_texts or [""] * len(self.prompt_ids)
        out = []
        for index, prompt in enumerate(self.prompt_ids):
            answers = []
            for row in self.rows[index * self.n : (index + 1) * self.n]:
                scored = None
                if self.logprobs is not None:
                    scored = (row.logprobs, row.top)
                completion = make(row.tokens, len(prompt), texts[index], scored)
                if self.tool_format is not None:
                    text, calls = self.tool_format.parse(completion.text, self.tool_names)
                    completion = dataclasses.replace(completion, text=text, tool_calls=tuple(calls))
                answers.append(completion)
            out.append(answers)
        return out


def check_context(generation: Generation, context: int | None, model: str) -> None:
    """Refuse a prompt the model cannot read; cut ``max_tokens`` to the context it leaves."""
    longest = max((len(p) for p in generation.prompt_ids), default=0)
    if context is None:
        return
    if longest >= context:
        raise InvalidRequestError(
            f"the prompt is {longest} tokens, and {model}'s context is {context} tokens: "
            "shorten the messages",
            param="messages",
            code="context_length_exceeded",
        )
    generation.max_tokens = min(generation.max_tokens, context - longest)


def slice_kwargs(
    generation: Generation,
    *,
    eos: int,
    slice_seconds: float | None,
    others_waiting: Callable[[], bool],
    streamer: bool,
) -> dict[str, Any]:
    """``generate``'s keyword arguments for the next slice of a started generation (no config)."""
    from transformers import LogitsProcessorList, StoppingCriteriaList

    tensors = generation._tensors
    assert tensors is not None, "start the generation first"
    slice_end = None if slice_seconds is None else time.monotonic() + slice_seconds
    kwargs: dict[str, Any] = {
        "input_ids": tensors.ids,
        "attention_mask": tensors.mask,
        "logits_processor": LogitsProcessorList([*generation._processors, _EndedRows(generation, eos)]),
        "stopping_criteria": StoppingCriteriaList([_Interrupt(generation, slice_end, others_waiting)]),
        "streamer": _Streamer(generation, eos) if streamer and generation.listener else None,
    }
    if tensors.cache is not None:
        kwargs["past_key_values"] = tensors.cache
    return kwargs


def tokens_left(generation: Generation) -> int:
    """Tokens the rows still writing may add (they all have the same count)."""
    return generation.max_tokens - min(len(r.tokens) for r in generation.rows if not r.ended)


def start(
    generation: Generation, tokenizer: Any, device: str, eos: int, regex_index: Callable[[str], Any]
) -> None:
    """Pad the prompts into one batch and build the logits processors (the first slice's inputs)."""
    from transformers import LogitsProcessorList

    from openrft.models._constrained import JsonLogitsProcessor

    # Each prompt repeated n times here rather than by generate's num_return_sequences, which
    # refuses greedy decoding with n > 1.
    rows = [list(p) for p in generation.prompt_ids for _ in range(generation.n)]
    batch = tokenizer.pad({"input_ids": rows}, padding=True, padding_side="left", return_tensors="pt").to(
        device
    )
    width = int(batch["input_ids"].shape[1])
    processors = LogitsProcessorList()
    if generation.logit_bias:
        processors.append(_LogitBias(generation.logit_bias))
    if generation.frequency_penalty or generation.presence_penalty:
        processors.append(_Penalties(generation.frequency_penalty, generation.presence_penalty, width))
    if generation.regex is not None:
        index = regex_index(generation.regex)
        processors.append(JsonLogitsProcessor(index, len(generation.rows), width, eos))
    generation._processors = processors
    generation._tensors = _Tensors(batch["input_ids"], batch["attention_mask"], width)


def record(generation: Generation, output: Any, eos: int) -> None:
    """Add a slice's tokens (and their log-probabilities) to the rows; keep what continues."""
    import torch

    tensors = generation._tensors
    assert tensors is not None

    before = tensors.ids.shape[1]
    new = output.sequences[:, before:]
    tensors.ids = output.sequences
    tensors.mask = torch.cat([tensors.mask, torch.ones_like(new)], dim=1)
    tensors.cache = output.past_key_values
    scored = None
    if generation.logprobs is not None and output.logits:
        scored = chosen_logprobs(output.logits, new, generation.logprobs)
    for index, (row, tokens) in enumerate(zip(generation.rows, new.tolist(), strict=True)):
        if row.ended:
            continue
        room = generation.max_tokens - len(row.tokens)
        for step, token in enumerate(tokens[:room]):
            row.tokens.append(int(token))
            if scored is not None:
                row.logprobs.append(scored[index][0][step])
                if scored[index][1]:
                    row.top.append(scored[index][1][step])
            if token == eos:
                row.ended = True
                break


class _Interrupt:
    """Ends a slice: cancelled, past the deadline, or past its time while another request waits."""

    def __init__(self, generation: Generation, slice_end: float | None, others_waiting: Callable[[], bool]):
        self.generation = generation
        self.slice_end = slice_end
        self.others_waiting = others_waiting

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        import torch

        generation = self.generation
        stop = generation.cancelled.is_set() or generation.timed_out
        if not stop and self.slice_end is not None and time.monotonic() >= self.slice_end:
            stop = self.others_waiting()
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


class _EndedRows:
    """Rows that ended in an earlier slice may only repeat the end token (``generate`` forgets)."""

    def __init__(self, generation: Generation, eos: int):
        self.ended = [index for index, row in enumerate(generation.rows) if row.ended]
        self.eos = eos

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if not self.ended:
            return scores
        forced = scores[self.ended].clone().fill_(float("-inf"))
        forced[:, self.eos] = 0.0
        scores[self.ended] = forced
        return scores


class _LogitBias:
    """OpenAI's ``logit_bias``: a value added to chosen tokens' logits (-100 bans, 100 forces)."""

    def __init__(self, bias: Mapping[int, float]):
        self.ids = list(bias)
        self.values = list(bias.values())

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        scores[:, self.ids] += torch.tensor(self.values, dtype=scores.dtype, device=scores.device)
        return scores


class _Penalties:
    """OpenAI's penalties: a token's logit minus ``frequency × its count in the answer so far``
    and minus ``presence`` once it has appeared."""

    def __init__(self, frequency: float, presence: float, prompt_width: int):
        self.frequency = frequency
        self.presence = presence
        self.width = prompt_width

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        answer = input_ids[:, self.width :]
        if answer.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores).scatter_add_(1, answer, torch.ones_like(answer, dtype=scores.dtype))
        return scores - self.frequency * counts - self.presence * (counts > 0).to(scores.dtype)


class _Streamer:
    """A ``generate`` streamer handing each sampled token of a live row to the listener."""

    def __init__(self, generation: Generation, eos: int):
        self.generation = generation
        self.live = [not row.ended for row in generation.rows]
        self.counts = [len(row.tokens) for row in generation.rows]
        self.eos = eos

    def put(self, value: torch.Tensor) -> None:
        if value.dim() != 1:  # generate first hands over the prompt
            return
        listener = self.generation.listener
        limit = self.generation.max_tokens
        for row, token in enumerate(value.tolist()):
            if not self.live[row] or self.counts[row] >= limit:
                continue
            self.counts[row] += 1
            self.live[row] = token != self.eos
            if listener is not None:
                listener(row, int(token))

    def end(self) -> None:
        """Nothing to flush: tokens were handed over as they came."""
