"""``python -m openrft.training run DIR``: run the job saved in ``DIR/job.json`` in this process.

What each process of a launched job runs (``openrft train --num-processes N``); it also runs a
job folder by hand. A bad input is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from openrft.errors import OpenRFTError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openrft.training", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run (or resume) the job saved in a job folder")
    run.add_argument("folder", type=Path, help="the job folder (openrft train --out)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # model loading, in launch.log
    from openrft.training._folder import JobFolder
    from openrft.training._job import run_job_process

    try:
        result = run_job_process(JobFolder(args.folder))
    except OpenRFTError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"job {result.status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
