"""RFT datasets: read and check OpenAI's training/validation JSONL, describe it, build example tasks.

>>> from openrft.data import load_rft_jsonl
>>> dataset = load_rft_jsonl("examples/icd10-coding/train.jsonl", split="train")
>>> row = dataset.rows[0]     # RFTRow(line, messages, item); item = every field but "messages"

:func:`load_rft_jsonl` raises :class:`DatasetError` listing every problem as ``FILE:LINE: what``;
:func:`check_rft_jsonl` returns the same findings without raising. :func:`compute_stats`
describes prompt lengths, item fields and the spread of reference answers. :func:`read_jsonl`
reads back the JSONL files openrft writes itself (job and eval folders), skipping a half-written
last line. Example tasks live in :mod:`openrft.data.tasks`. See ``docs/datasets.md``.
"""

from openrft.data._dataset import (
    DatasetError,
    DatasetLimits,
    DatasetReport,
    RFTDataset,
    RFTRow,
    Split,
    check_rft_jsonl,
    load_rft_jsonl,
)
from openrft.data._files import read_jsonl, read_jsonl_from, write_atomic
from openrft.data._messages import ROLES
from openrft.data._stats import DatasetStats, LengthSummary, compute_stats

__all__ = [
    "ROLES",
    "DatasetError",
    "DatasetLimits",
    "DatasetReport",
    "DatasetStats",
    "LengthSummary",
    "RFTDataset",
    "RFTRow",
    "Split",
    "check_rft_jsonl",
    "compute_stats",
    "load_rft_jsonl",
    "read_jsonl",
    "read_jsonl_from",
    "write_atomic",
]
