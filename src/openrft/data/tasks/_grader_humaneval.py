"""Grader for the humaneval task (runs as an OpenAI python grader; standard library only).

The answer's code (the longest fenced block that defines the entry point, else the longest
block, else the whole text; a bare function body is put under the prompt's signature) runs
with the problem's own tests. 1.0 when every test passes, 0 otherwise: a failed assertion, an
exception, ``sys.exit`` or running past ``TIME_LIMIT`` seconds.

The code runs inside this grader's process, which the python-grader sandbox already isolates
(no network, no view of the host, memory and time limits). The alarm below only stops an
endless loop early instead of letting it use up the sandbox's whole per-grade time; the
sandbox's own timer is restored afterwards.
"""

import re
import signal
import threading
import time
from typing import Any

TIME_LIMIT = 5.0
FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)(?:```|$)", re.DOTALL | re.IGNORECASE)


class TimeUp(Exception):
    pass


def candidate_code(text, item):
    """The program to test: the answer's code, completed with the prompt when it is a body."""
    blocks = FENCE.findall(text) or [text]
    defining = [b for b in blocks if f"def {item['entry_point']}" in b]
    code = max(defining or blocks, key=len)
    if f"def {item['entry_point']}" not in code:
        code = item["prompt"] + code
    return code


def _on_alarm(signum, frame):
    raise TimeUp


def run_tests(code, item):
    namespace: dict[str, Any] = {"__name__": "candidate"}
    exec(compile(code + "\n\n" + item["test"], "candidate.py", "exec"), namespace)
    namespace["check"](namespace[item["entry_point"]])


def grade(sample, item):
    code = candidate_code(sample["output_text"], item)
    if threading.current_thread() is not threading.main_thread():  # signals need the main thread
        try:
            run_tests(code, item)
            return 1.0
        except BaseException:
            return 0.0
    outer, _ = signal.getitimer(signal.ITIMER_REAL)
    limit = min(TIME_LIMIT, outer) if outer > 0 else TIME_LIMIT
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        run_tests(code, item)
        return 1.0
    except BaseException:  # the tests did not pass: wrong, crashed, exited or timed out
        return 0.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer - (time.monotonic() - started), 0.001))
