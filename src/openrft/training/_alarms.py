"""Reward-hacking alarms, checked at each validation against the one before.

Between two validations the job compares the training steps since the last validation with
the steps before it:

* ``length_rising``: mean completion length rose by at least :data:`LENGTH_RISE` (relative)
  while the valid reward did not rise by more than :data:`FLAT` (in units of the score
  range): the policy is learning to write more, not to answer better.
* ``train_up_valid_down``: the mean train reward rose by at least :data:`DIVERGENCE` while
  the valid reward fell by at least as much: the policy is fitting the grader on the
  training prompts, not the task.

An alarm is a warning event (and listed in that step's metrics); training goes on.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

LENGTH_RISE = 0.2
FLAT = 0.01
DIVERGENCE = 0.05


def _window(history: Sequence[dict[str, Any]], after: int, upto: int, key: str) -> float | None:
    values = [m[key] for m in history if after < m["step"] <= upto and m.get(key) is not None]
    return statistics.fmean(values) if values else None


def check_alarms(history: Sequence[dict[str, Any]], *, scale: float = 1.0) -> list[dict[str, Any]]:
    """Alarms raised by the last validation in ``history`` (metrics dicts in step order).

    ``scale`` is the width of the grader's score range (reward thresholds are multiplied by it).
    """
    validated = [m for m in history if m.get("full_valid_mean_reward") is not None]
    if len(validated) < 2 or validated[-1] is not history[-1]:
        return []
    now, before = validated[-1], validated[-2]
    earlier = validated[-3]["step"] if len(validated) >= 3 else 0
    valid_change = now["full_valid_mean_reward"] - before["full_valid_mean_reward"]
    length_now = _window(history, before["step"], now["step"], "completion_tokens_mean")
    length_before = _window(history, earlier, before["step"], "completion_tokens_mean")
    train_now = _window(history, before["step"], now["step"], "train_mean_reward")
    train_before = _window(history, earlier, before["step"], "train_mean_reward")
    alarms = []
    if (
        length_now is not None
        and length_before
        and length_now >= (1 + LENGTH_RISE) * length_before
        and valid_change <= FLAT * scale
    ):
        alarms.append(
            {
                "alarm": "length_rising",
                "message": (
                    f"completion length rose {length_before:.1f} → {length_now:.1f} tokens while the valid "
                    f"reward went {before['full_valid_mean_reward']:.3f} → "
                    f"{now['full_valid_mean_reward']:.3f}"
                ),
            }
        )
    if (
        train_now is not None
        and train_before is not None
        and train_now - train_before >= DIVERGENCE * scale
        and valid_change <= -DIVERGENCE * scale
    ):
        alarms.append(
            {
                "alarm": "train_up_valid_down",
                "message": (
                    f"train reward rose {train_before:.3f} → {train_now:.3f} while the valid reward fell "
                    f"{before['full_valid_mean_reward']:.3f} → {now['full_valid_mean_reward']:.3f}"
                ),
            }
        )
    return alarms
